"""The Jasmin client against a fake Jasmin REST API on loopback: what it sends, how it reads answers and
refusals, which failures may be retried, and that HTTPS through an override IP still verifies the certificate."""

from __future__ import annotations

import base64
import dataclasses
import socket
import time

import pytest

from sms.provider import Balance, Jasmin, ProviderConfig, ProviderError, validate_config
from tests.jasmin import FakeJasmin

DLR_URL = "https://mayday.example.com/api/sms/dlr"


def send(config: ProviderConfig, **kwargs) -> str:
    message = {"to": "+256700771301", "sender": "Hugamara", "content": "Your table is ready"} | kwargs
    with Jasmin(config) as provider:
        return provider.send(**message)


def refusal(config: ProviderConfig, **kwargs) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        send(config, **kwargs)
    return caught.value


# Sending


def test_send_returns_the_message_id_and_sends_exactly_the_expected_body(jasmin):
    message_id = send(jasmin.config(), dlr_url=DLR_URL)

    assert jasmin.sent == [
        {
            "to": "+256700771301",
            "from": "Hugamara",
            "content": "Your table is ready",
            "dlr": "yes",
            "dlr-url": DLR_URL,
            "dlr-level": 3,
        }
    ]
    (request,) = jasmin.requests
    assert (request.method, request.path) == ("POST", "/secure/send")
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"mayday:secret").decode()
    assert len(message_id) == 36
    assert message_id.count("-") == 4


def test_the_id_is_read_with_or_without_the_closing_quote(jasmin):
    jasmin.reply_send_sequence([(200, {"data": 'Success "abc-123"'}), (200, {"data": 'Success "abc-456'})])

    assert send(jasmin.config()) == "abc-123"
    assert send(jasmin.config()) == "abc-456"


def test_sender_and_delivery_report_url_default_to_the_configuration(jasmin):
    send(jasmin.config(default_sender="Mayday", dlr_url=DLR_URL), sender="", dlr_level=1)

    assert jasmin.sent[0]["from"] == "Mayday"
    assert (jasmin.sent[0]["dlr-url"], jasmin.sent[0]["dlr-level"]) == (DLR_URL, 1)


def test_without_a_delivery_report_url_no_report_is_asked_for(jasmin):
    send(jasmin.config(), sender="")

    assert jasmin.sent == [{"to": "+256700771301", "content": "Your table is ready", "dlr": "no"}]


def test_a_bad_delivery_report_level_is_refused_before_sending(jasmin):
    with pytest.raises(ValueError, match="level"):
        send(jasmin.config(), dlr_url=DLR_URL, dlr_level=4)
    assert jasmin.requests == []


def test_a_ready_authorization_header_is_sent_as_given(jasmin):
    config = jasmin.config(auth_header=jasmin.auth_header)

    send(config)

    assert (config.username, config.password) == ("", "")
    assert jasmin.requests[0].headers["Authorization"] == jasmin.auth_header


# Refusals: not retryable, in the provider's words


def test_wrong_credentials_are_refused_with_the_providers_words(jasmin):
    error = refusal(jasmin.config(password="wrong"))

    assert (error.status, error.retryable) == (403, False)
    assert error.message == "Authentication failure for username:mayday"


def test_an_undecodable_token_is_refused_with_401(jasmin):
    error = refusal(jasmin.config(auth_header="Bearer not-base64"))

    assert (error.status, error.retryable) == (401, False)
    assert error.message.startswith("Invalid token")


@pytest.mark.parametrize(
    ("status", "body", "words"),
    [
        (401, {"title": "Authentication required", "description": "Please provide a valid Basic auth token"},
         "Authentication required: Please provide a valid Basic auth token"),
        (403, {"message": 'Error "Authentication failure for username:mayday"'},
         "Authentication failure for username:mayday"),
        (412, {"message": 'Error "No route found'}, "No route found"),
        (400, 'Error "Argument _ is unknown."', "Argument _ is unknown."),
        (400, "x" * 500, "x" * 200),
        (404, "", "NOT FOUND"),
    ],
)  # fmt: skip
def test_4xx_answers_are_not_retryable_and_carry_the_providers_words(jasmin, status, body, words):
    jasmin.reply_send(status, body)

    error = refusal(jasmin.config())

    assert (error.status, error.retryable, error.message) == (status, False, words)
    assert str(error) == words


# Failures that may be retried


def test_a_server_error_is_retryable_and_the_retry_succeeds(jasmin):
    words = "Cannot send submit_sm, check SMPPClientManagerPB log file for details"
    jasmin.reply_send(500, {"message": f'Error "{words}'})
    config = jasmin.config()

    error = refusal(config)
    message_id = send(config)

    assert (error.status, error.retryable, error.message) == (500, True, words)
    assert message_id
    assert len(jasmin.sent) == 2


def test_no_answer_within_the_read_timeout_is_retryable(jasmin):
    jasmin.delay = 5
    started = time.monotonic()

    error = refusal(jasmin.config(read_timeout=0.3))

    assert time.monotonic() - started < 2
    assert (error.status, error.retryable) == (None, True)
    assert "in time" in error.message


def test_a_slow_answer_within_the_timeout_is_fine(jasmin):
    jasmin.delay = 0.3

    assert send(jasmin.config(read_timeout=5))


def test_connection_refused_is_retryable():
    with socket.socket() as bound:  # bound but not listening: connections to it are refused
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        error = refusal(ProviderConfig(base_url=f"http://127.0.0.1:{port}/secure", username="u", password="p"))

    assert (error.status, error.retryable) == (None, True)
    assert error.message.startswith("Could not reach the SMS provider")


# Answers that were not understood: never retried, the message may have gone out


@pytest.mark.parametrize(
    "body",
    [
        "<html>Welcome to the hotel Wi-Fi</html>",
        {"data": 'Error "No route found"'},
        {"data": {"id": "abc"}},
        {"data": 'Success ""'},
        {"result": "ok"},
        ["Success"],
    ],
)
def test_a_200_that_is_not_understood_is_not_retryable(jasmin, body):
    jasmin.reply_send(200, body)

    error = refusal(jasmin.config())

    assert (error.status, error.retryable) == (200, False)
    assert "not understood" in error.message


# Balance


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"balance": "10.23", "sms_count": "ND"}, Balance("10.23", None)),
        ({"balance": 10.23, "sms_count": 120}, Balance("10.23", "120")),
        ({"balance": "ND", "sms_count": "ND"}, Balance(None, None)),
    ],
)
def test_balance(jasmin, values, expected):
    jasmin.balance = values

    with Jasmin(jasmin.config()) as provider:
        assert provider.balance() == expected
    (request,) = jasmin.requests
    assert (request.method, request.path) == ("GET", "/secure/balance")
    assert request.headers["Authorization"] == jasmin.auth_header


@pytest.mark.parametrize("body", ["ND", {"data": "ND"}, {"data": {"balance": "1"}}, {"data": {"balance": None}}])
def test_a_balance_that_is_not_understood_is_not_retryable(jasmin, body):
    jasmin.reply_balance(200, body)

    with Jasmin(jasmin.config()) as provider, pytest.raises(ProviderError) as caught:
        provider.balance()
    assert (caught.value.status, caught.value.retryable) == (200, False)


def test_balance_refused(jasmin):
    with Jasmin(jasmin.config(password="wrong")) as provider, pytest.raises(ProviderError) as caught:
        provider.balance()
    assert (caught.value.status, caught.value.message) == (403, "Authentication failure for username:mayday")


def test_one_client_serves_many_requests(jasmin):
    with Jasmin(jasmin.config()) as provider:
        ids = {provider.send(to="+256700771301", sender="Hugamara", content=str(n)) for n in range(3)}
        provider.balance()
    assert len(ids) == 3
    assert len(jasmin.requests) == 4


# HTTPS through the override IP, with the certificate verified against the host name


def test_https_through_the_override_ip_verifies_the_certificate_for_the_host_name(jasmin_tls):
    config = jasmin_tls.config()

    with Jasmin(config, verify=jasmin_tls.client_ssl_context()) as provider:
        assert provider.send(to="+256700771301", sender="Hugamara", content="Hello")

    assert config.base_url.startswith("https://sms.example.test:")
    assert config.override_ip == "127.0.0.1"
    assert jasmin_tls.sni == ["sms.example.test"]
    assert jasmin_tls.requests[0].headers["Host"] == f"sms.example.test:{jasmin_tls.port}"


def test_a_ca_bundle_path_can_be_given(jasmin_tls, tmp_path):
    bundle = tmp_path / "ca.pem"
    jasmin_tls.ca.cert_pem.write_to_path(str(bundle))

    with Jasmin(jasmin_tls.config(), verify=str(bundle)) as provider:
        assert provider.balance() == Balance("10.23", None)


def test_a_certificate_for_another_name_is_refused(jasmin_ca, jasmin_tls):
    with FakeJasmin(ca=jasmin_ca, tls_host="elsewhere.example.test") as other:
        config = dataclasses.replace(jasmin_tls.config(), base_url=f"https://sms.example.test:{other.port}/secure")
        with Jasmin(config, verify=jasmin_tls.client_ssl_context()) as provider, pytest.raises(ProviderError) as caught:
            provider.send(to="+256700771301", sender="Hugamara", content="Hello")
        assert other.requests == []

    assert caught.value.retryable
    assert "CERTIFICATE_VERIFY_FAILED" in caught.value.message
    assert "sms.example.test" in caught.value.message


def test_the_ip_address_is_not_accepted_in_place_of_the_name(jasmin_tls):
    config = jasmin_tls.config(base_url=f"https://127.0.0.1:{jasmin_tls.port}/secure", override_ip="")

    error = refusal_tls(jasmin_tls, config)

    assert "CERTIFICATE_VERIFY_FAILED" in error.message
    assert jasmin_tls.requests == []


def test_without_the_test_ca_the_certificate_is_refused(jasmin_tls):
    with Jasmin(jasmin_tls.config()) as provider, pytest.raises(ProviderError) as caught:
        provider.balance()

    assert "CERTIFICATE_VERIFY_FAILED" in caught.value.message
    assert jasmin_tls.requests == []


def test_without_the_override_ip_the_unknown_name_cannot_be_reached(jasmin_tls):
    error = refusal_tls(jasmin_tls, jasmin_tls.config(override_ip=""))

    assert error.retryable
    assert jasmin_tls.requests == []


def refusal_tls(fake: FakeJasmin, config: ProviderConfig) -> ProviderError:
    with Jasmin(config, verify=fake.client_ssl_context()) as provider, pytest.raises(ProviderError) as caught:
        provider.send(to="+256700771301", sender="Hugamara", content="Hello")
    return caught.value


# Configuration


GOOD = ProviderConfig(base_url="https://sms.example.com/secure", username="mayday", password="secret")


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"auth_header": "Basic bWF5ZGF5OnNlY3JldA=="}, "not both"),
        ({"username": "", "password": ""}, "Give a user name and password or an Authorization header"),
        ({"password": ""}, "Both the user name and the password"),
        ({"username": ""}, "Both the user name and the password"),
        ({"password": "se:cret"}, "':'"),
        ({"password": "se\ncret"}, "control characters"),
        ({"username": "", "password": "", "auth_header": "Basic abc\r\nX-Injected: 1"}, "CR or LF"),
        ({"username": "", "password": "", "auth_header": "Basic \x00"}, "printable ASCII"),
        ({"username": "", "password": "", "auth_header": " Basic abc"}, "spaces"),
        ({"base_url": ""}, "required"),
        ({"base_url": "ftp://sms.example.com/secure"}, "http:// or https://"),
        ({"base_url": "sms.example.com/secure"}, "http:// or https://"),
        ({"base_url": "https://sms.example.com:http/secure"}, "not a valid URL"),
        ({"base_url": "https://mayday:secret@sms.example.com/secure"}, "credentials"),
        ({"base_url": "https://sms.example.com/secure?user=mayday"}, "query"),
        ({"override_ip": "sms.example.com"}, "not an IP address"),
        ({"override_ip": "300.1.2.3"}, "not an IP address"),
        ({"dlr_url": "mayday.example.com/dlr"}, "delivery report URL"),
        ({"connect_timeout": 0}, "Connect timeout"),
        ({"read_timeout": -1}, "Read timeout"),
    ],
)
def test_validate_config_names_what_is_wrong(changes, complaint):
    config = dataclasses.replace(GOOD, **changes)

    with pytest.raises(ValueError, match=complaint.replace("?", r"\?")):
        validate_config(config)
    with pytest.raises(ValueError):
        Jasmin(config)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"username": "", "password": "", "auth_header": "Basic bWF5ZGF5OnNlY3JldA=="},
        {"override_ip": "192.0.2.10", "dlr_url": "https://mayday.example.com/api/sms/dlr"},
        {"override_ip": "2001:db8::10", "base_url": "http://sms.example.com:8080/"},
    ],
)
def test_validate_config_accepts_good_configurations(changes):
    validate_config(dataclasses.replace(GOOD, **changes))


def test_secrets_stay_out_of_the_configurations_repr():
    config = dataclasses.replace(GOOD, password="hunter2-secret")
    header = dataclasses.replace(GOOD, username="", password="", auth_header="Basic c2VjcmV0LXRva2Vu")

    assert "hunter2-secret" not in repr(config)
    assert "c2VjcmV0LXRva2Vu" not in repr(header)
    assert "mayday" in repr(config)


def test_plain_http_through_the_override_ip_names_the_host(jasmin):
    config = jasmin.config(base_url=f"http://sms.example.test:{jasmin.port}/secure", override_ip="127.0.0.1")

    assert send(config)
    assert jasmin.requests[0].headers["Host"] == f"sms.example.test:{jasmin.port}"
