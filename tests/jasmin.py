"""A fake Jasmin SMS gateway REST API on loopback, to test the SMS provider client against a real HTTP peer.

It answers as Jasmin's REST API does (jasmin/protocols/rest): `POST /secure/send` with
`{"data": "Success \\"<id>"}` (Jasmin strips the closing quote), `GET /secure/balance` with
`{"data": {"balance": ..., "sms_count": ...}}`, a missing or undecodable Basic token with a 401 from its web
framework, wrong credentials with a 403 `{"message": "Error \\"Authentication failure for username:<name>"}`,
and a body that is not JSON with a 412. Tests can script the next answers, slow every answer down, and read
everything received.

Fixtures: `jasmin` (plain HTTP) and `jasmin_tls` (HTTPS with a certificate for `sms.example.test` only, signed
by a test CA; the name is unknown to DNS, so only the override IP reaches it). Both servers live for the whole
session; each test gets them with a clean state.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import ssl
import threading
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import trustme
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from sms.provider import ProviderConfig

USERNAME = "mayday"
PASSWORD = "secret"
TLS_HOST = "sms.example.test"
_FALCON_AUTH_HELP = "Please provide a valid Basic auth token"


@dataclass(frozen=True)
class Received:
    """One request as the fake received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


def _response(status: int, body: object, content_type: str | None = None) -> Response:
    """A dict or list is sent as JSON; text or bytes as they are (text/plain unless told)."""
    if isinstance(body, dict | list):
        return Response(json.dumps(body), status=status, content_type=content_type or "application/json")
    return Response(body, status=status, content_type=content_type or "text/plain")


ROUTES = {"/secure/send": ("POST", "send"), "/secure/balance": ("GET", "balance")}  # path: (method, script)


class FakeJasmin:
    """The fake gateway. With a trustme `ca` it serves HTTPS with a certificate for `tls_host`, issued by `ca`."""

    def __init__(self, *, ca: trustme.CA | None = None, tls_host: str = TLS_HOST) -> None:
        self.ca = ca
        self.tls_host = tls_host if ca else ""
        self.username = USERNAME
        self.password = PASSWORD
        self.auth_header = "Basic " + base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
        server_context = None
        if ca is not None:
            server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ca.issue_cert(tls_host).configure_cert(server_context)
            server_context.sni_callback = self._record_sni
        self.server = HTTPServer(host="127.0.0.1", port=0, ssl_context=server_context, threaded=True)
        self.server.expect_request(re.compile(".*")).respond_with_handler(self._handle)
        self._lock = threading.Lock()
        self._release = threading.Event()
        self.reset()

    def start(self) -> FakeJasmin:
        self.server.start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self.server.is_running():
            self.server.stop()

    def __enter__(self) -> FakeJasmin:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self.server.port

    def reset(self) -> None:
        """Forget what was received and scripted, and let any delayed answer go at once."""
        self._release.set()
        with self._lock:
            self._release = threading.Event()
            self.requests: list[Received] = []
            self.sent: list[dict] = []
            self.sni: list[str | None] = []
            self.delay = 0.0
            self.balance = {"balance": "10.23", "sms_count": "ND"}
            self._scripts: dict[str, deque[Response]] = {"send": deque(), "balance": deque()}
        self.server.clear_handler_errors()

    def config(self, **overrides) -> ProviderConfig:
        """A configuration pointing at this fake, signing in as the account it accepts. Giving `auth_header`
        drops the default user name and password. Over HTTPS the base URL names the certificate's host and the
        override IP is the loopback address the server listens on."""
        if self.ca is not None:
            fields = {"base_url": f"https://{self.tls_host}:{self.port}/secure", "override_ip": "127.0.0.1"}
        else:
            fields = {"base_url": f"http://127.0.0.1:{self.port}/secure"}
        if "auth_header" not in overrides:
            fields.update(username=self.username, password=self.password)
        return ProviderConfig(**{**fields, **overrides})

    def client_ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts the test CA only, with host name checking on (as by default)."""
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context

    def reply_send(self, status: int, body: object, content_type: str | None = None) -> None:
        """Answer the next /send with this, whatever it carries (a dict as JSON, text as is)."""
        self._scripts["send"].append(_response(status, body, content_type))

    def reply_send_sequence(self, replies: list[tuple[int, object]]) -> None:
        """Answer the next /send requests with these (status, body) pairs, in order."""
        for status, body in replies:
            self.reply_send(status, body)

    def reply_balance(self, status: int, body: object, content_type: str | None = None) -> None:
        """Answer the next /balance with this instead of `self.balance`."""
        self._scripts["balance"].append(_response(status, body, content_type))

    def _record_sni(self, ssl_socket, server_name, context) -> None:
        self.sni.append(server_name)

    def _handle(self, request: Request) -> Response:
        body = request.get_data()
        received = Received(request.method, request.path, dict(request.headers), body)
        route = ROUTES.get(request.path)
        with self._lock:
            self.requests.append(received)
            release = self._release
            # The scripted answer is taken as the request arrives: one answered late (after `delay`, or once
            # the next test's reset let it go) never takes an answer scripted after it.
            scripts = self._scripts[route[1]] if route and route[0] == request.method else None
            scripted = scripts.popleft() if scripts else None
            if request.path == "/secure/send" and request.method == "POST":
                try:
                    self.sent.append(json.loads(body))
                except ValueError:
                    pass
        if self.delay:
            release.wait(self.delay)
        return self._answer(request, body, scripted)

    def _answer(self, request: Request, body: bytes, scripted: Response | None) -> Response:
        if request.path == "/ping":
            return _response(200, {"data": "Jasmin/PONG"})
        if request.path not in ROUTES:
            return _response(404, {"title": "404 Not Found"})
        method, name = ROUTES[request.path]
        if request.method != method:
            return _response(405, {"title": "405 Method Not Allowed"})
        if scripted is not None:
            return scripted
        refusal = self._check_auth(request.headers.get("Authorization"))
        if refusal is not None:
            return refusal
        if name == "balance":
            return _response(200, {"data": self.balance})
        try:
            json.loads(body)
        except ValueError:
            return _response(
                412,
                {"title": "Cannot parse JSON data", "description": f"Got unparseable json data: {body[:100]!r}"},
            )
        return _response(200, {"data": f'Success "{uuid.uuid4()}'})

    def _check_auth(self, header: str | None) -> Response | None:
        """Jasmin's REST API answers 401 for a missing or undecodable token and passes the credentials to its
        HTTP API, which answers 403 when they are wrong."""
        if header is None:
            return _response(401, {"title": "Authentication required", "description": _FALCON_AUTH_HELP})
        keys = header.split(" ")
        try:
            if len(keys) != 2:
                raise ValueError(f"Invalid token: {header}")
            username, password = base64.b64decode(keys[1], validate=True).decode().split(":")
        except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
            return _response(401, {"title": f"Invalid token: {exc}", "description": _FALCON_AUTH_HELP})
        if (username, password) != (self.username, self.password):
            return _response(403, {"message": f'Error "Authentication failure for username:{username}'})
        return None


@pytest.fixture(scope="session")
def _jasmin_server() -> Iterator[FakeJasmin]:
    with FakeJasmin() as fake:
        yield fake


@pytest.fixture(scope="session")
def jasmin_ca() -> trustme.CA:
    """The test CA that signs the HTTPS fake's certificate."""
    return trustme.CA()


@pytest.fixture(scope="session")
def _jasmin_tls_server(jasmin_ca) -> Iterator[FakeJasmin]:
    with FakeJasmin(ca=jasmin_ca) as fake:
        yield fake


def _fresh(fake: FakeJasmin) -> Iterator[FakeJasmin]:
    """The fake with a clean state; afterwards, an error raised inside the fake fails the test."""
    fake.reset()
    yield fake
    try:
        fake.server.check_handler_errors()
    finally:
        fake.reset()


@pytest.fixture
def jasmin(_jasmin_server) -> Iterator[FakeJasmin]:
    """The plain-HTTP fake gateway on 127.0.0.1."""
    yield from _fresh(_jasmin_server)


@pytest.fixture
def jasmin_tls(_jasmin_tls_server) -> Iterator[FakeJasmin]:
    """The HTTPS fake gateway: a certificate for sms.example.test only, listening on 127.0.0.1."""
    yield from _fresh(_jasmin_tls_server)
