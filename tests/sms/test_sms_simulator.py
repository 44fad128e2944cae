"""The demo's stand-in gateway speaks the REST API shape the client reads, and reports deliveries back."""

from __future__ import annotations

import threading
import time
from http.server import ThreadingHTTPServer

import pytest

from sms.management.commands.sms_simulator import Gateway
from sms.provider import Jasmin, ProviderConfig, ProviderError


@pytest.fixture
def gateway():
    Gateway.credentials = "mayday:mayday"
    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/secure"
    server.shutdown()


def test_it_accepts_reports_delivery_and_refuses_a_wrong_password(gateway, httpserver):
    httpserver.expect_request("/api/sms/dlr", method="POST").respond_with_data("ACK/Jasmin")
    with Jasmin(ProviderConfig(base_url=gateway, username="mayday", password="mayday")) as client:
        message_id = client.send(
            to="+256700771301", sender="Mayday", content="Hi", dlr_url=httpserver.url_for("/api/sms/dlr")
        )
        assert client.balance().balance is None  # unlimited
    deadline = time.monotonic() + 5
    while not httpserver.log and time.monotonic() < deadline:
        time.sleep(0.05)
    [(request, _)] = httpserver.log
    assert request.form["id"] == message_id and request.form["message_status"] == "DELIVRD"
    with Jasmin(ProviderConfig(base_url=gateway, username="mayday", password="wrong")) as client:
        with pytest.raises(ProviderError, match="Authentication failure") as refused:
            client.send(to="+256700771301", sender="Mayday", content="Hi")
    assert not refused.value.retryable
