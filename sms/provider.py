"""The SMS provider: a Jasmin SMS gateway reached through its REST API.

`Jasmin.send` hands one message to the gateway and returns the gateway's message id; `Jasmin.balance` reads the
account's balance. Every failure is a `ProviderError` that says whether trying again later makes sense.

The gateway's host name may be unknown to our DNS; the configuration can then name the IP address to connect to.
The certificate is still verified against the host name of the base URL, never against the IP address and never
switched off.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import ssl
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import httpx

from sms.segments import count

# Jasmin answers `Success "<id>"` and `Error "<words>"`. Its REST API strips a trailing quote from what its HTTP
# API said, so the closing quote is usually missing: both forms are accepted.
_QUOTED = re.compile(r'^(Success|Error)\s+"(.*?)"?\s*$', re.DOTALL)
_UNLIMITED = "ND"


@dataclass(frozen=True)
class ProviderConfig:
    """Where the gateway is and how to sign in: a user name and password (HTTP Basic) or a ready
    `Authorization` header value, exactly one of the two. Secrets are left out of the repr, so logging a
    configuration does not log them."""

    base_url: str
    username: str = ""
    password: str = field(default="", repr=False)
    auth_header: str = field(default="", repr=False)
    default_sender: str = ""
    dlr_url: str = ""
    override_ip: str = ""
    connect_timeout: float = 5.0
    read_timeout: float = 10.0


class ProviderError(Exception):
    """The gateway refused a request, or could not be asked, or gave an answer that was not understood.

    `message` is the gateway's own words when it gave some. `retryable` is true when the same request may
    succeed later (no connection, no answer in time, a server error); it is false for refusals and for answers
    that were not understood, after which the message may already have gone out. `status` is the HTTP status,
    None when there was no answer.
    """

    def __init__(self, message: str, *, retryable: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status = status

    def __repr__(self) -> str:
        return f"ProviderError({self.message!r}, retryable={self.retryable}, status={self.status})"


@dataclass(frozen=True)
class Balance:
    """The account's balance and remaining message count, as the gateway words them; None means unlimited."""

    balance: str | None
    sms_count: str | None


def _check_http_url(value: str, what: str) -> None:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (a port that is not a number raises here)
    except ValueError as exc:
        raise ValueError(f"{what} is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{what} must be an http:// or https:// URL with a host name, not {value!r}")


def _check_header_safe(value: str, what: str) -> None:
    if "\r" in value or "\n" in value:
        raise ValueError(f"{what} must not contain CR or LF")
    if not all(" " <= ch <= "~" or ch == "\t" for ch in value):
        raise ValueError(f"{what} must be printable ASCII")


def validate_config(config: ProviderConfig) -> None:
    """Raise ValueError naming the first thing wrong with the configuration, so a mistake is reported when the
    settings are saved rather than when the first message fails."""
    if not config.base_url:
        raise ValueError("The base URL is required")
    _check_http_url(config.base_url, "The base URL")
    parts = urlsplit(config.base_url)
    if parts.username is not None or parts.password is not None:
        raise ValueError("The base URL must not contain credentials; use the user name and password fields")
    if parts.query or parts.fragment:
        raise ValueError("The base URL must not have a query or a fragment")

    basic = bool(config.username or config.password)
    if basic and config.auth_header:
        raise ValueError("Give either a user name and password or an Authorization header value, not both")
    if not basic and not config.auth_header:
        raise ValueError("Give a user name and password or an Authorization header value")
    if basic:
        if not config.username or not config.password:
            raise ValueError("Both the user name and the password are required")
        # Jasmin splits the decoded Basic credentials on every ':', so neither part may contain one.
        if ":" in config.username or ":" in config.password:
            raise ValueError("The user name and password must not contain ':'")
        if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in config.username + config.password):
            raise ValueError("The user name and password must not contain control characters")
    else:
        _check_header_safe(config.auth_header, "The Authorization header value")
        if config.auth_header != config.auth_header.strip():
            raise ValueError("The Authorization header value must not start or end with spaces")

    if config.dlr_url:
        _check_http_url(config.dlr_url, "The delivery report URL")
    if config.override_ip:
        try:
            ipaddress.ip_address(config.override_ip)
        except ValueError:
            raise ValueError(f"The override IP {config.override_ip!r} is not an IP address") from None
    for name in ("connect_timeout", "read_timeout"):
        value = getattr(config, name)
        if not isinstance(value, int | float) or isinstance(value, bool) or not value > 0:
            raise ValueError(f"{name.replace('_', ' ').capitalize()} must be a positive number of seconds")


def _ssl_context(verify: bool | str | ssl.SSLContext) -> bool | ssl.SSLContext:
    """A CA bundle path (a file, or a directory of hashed certificates) becomes an SSLContext here, as httpx
    no longer takes a path."""
    if isinstance(verify, str):
        if os.path.isdir(verify):
            return ssl.create_default_context(capath=verify)
        return ssl.create_default_context(cafile=verify)
    return verify


def _unquote(text: str) -> str:
    match = _QUOTED.match(text.strip())
    return match.group(2) if match else text.strip()


def _provider_words(response: httpx.Response) -> str:
    """What the gateway said about a refusal: Jasmin's `{"message": "Error \\"...\\""}` unwrapped, or the
    title and description of an error from its web framework, or the start of the body, or the HTTP reason."""
    text = response.text.strip()
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict):
        message = body.get("message")
        if isinstance(message, str) and message.strip():
            return _unquote(message)
        title, description = body.get("title"), body.get("description")
        if isinstance(title, str) and title.strip():
            return f"{title}: {description}" if isinstance(description, str) and description else title
    if text:
        return _unquote(text)[:200]
    return response.reason_phrase or f"HTTP {response.status_code}"


def _not_understood(response: httpx.Response) -> ProviderError:
    return ProviderError(
        f"The SMS provider's answer was not understood: {response.text[:200]!r}",
        retryable=False,
        status=response.status_code,
    )


class Jasmin:
    """A client for one Jasmin gateway account, holding one HTTP connection pool; close it when done, or use it
    as a context manager."""

    def __init__(self, config: ProviderConfig, *, verify: bool | str | ssl.SSLContext = True) -> None:
        validate_config(config)
        self.config = config
        parts = urlsplit(config.base_url)
        base = config.base_url.rstrip("/")
        headers = {"Accept": "application/json"}
        self._extensions: dict[str, str] = {}
        if config.override_ip:
            # Connect to the IP address, but name the real host in the Host header and, for HTTPS, in the TLS
            # server name, against which httpcore has the certificate verified.
            ip = ipaddress.ip_address(config.override_ip)
            host = f"[{ip}]" if ip.version == 6 else str(ip)
            netloc = f"{host}:{parts.port}" if parts.port else host
            base = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
            headers["Host"] = parts.netloc
            if parts.scheme == "https":
                self._extensions["sni_hostname"] = parts.hostname
        auth = None
        if config.auth_header:
            headers["Authorization"] = config.auth_header
        else:
            auth = httpx.BasicAuth(config.username, config.password)
        self._client = httpx.Client(
            base_url=base,
            auth=auth,
            headers=headers,
            timeout=httpx.Timeout(config.read_timeout, connect=config.connect_timeout),
            verify=_ssl_context(verify),
            follow_redirects=False,
        )

    def __enter__(self) -> Jasmin:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def send(self, *, to: str, sender: str, content: str, dlr_url: str = "", dlr_level: int = 3) -> str:
        """Hand one message to the gateway and return its message id. An empty sender or delivery report URL
        falls back to the configuration's; with no delivery report URL at all, no report is asked for."""
        payload: dict[str, object] = {"to": to}
        sender = sender or self.config.default_sender
        if sender:
            payload["from"] = sender
        if count(content).encoding == "GSM-7":
            payload["content"] = content
        else:  # Jasmin would turn what GSM-7 lacks into "?": the text goes as UCS-2 (coding 8), in hex
            payload.update({"coding": 8, "hex-content": content.encode("utf-16-be").hex()})
        dlr_url = dlr_url or self.config.dlr_url
        if dlr_url:
            _check_http_url(dlr_url, "The delivery report URL")
            if dlr_level not in (1, 2, 3):
                raise ValueError("The delivery report level must be 1 (SMSC), 2 (handset) or 3 (both)")
            payload.update({"dlr": "yes", "dlr-url": dlr_url, "dlr-level": dlr_level})
        else:
            payload["dlr"] = "no"

        response = self._request("POST", "/send", json=payload)
        try:
            data = response.json()["data"]
        except (ValueError, TypeError, KeyError):
            raise _not_understood(response) from None
        match = _QUOTED.match(data.strip()) if isinstance(data, str) else None
        if not match or match.group(1) != "Success" or not match.group(2).strip():
            raise _not_understood(response)
        return match.group(2).strip()

    def balance(self) -> Balance:
        """The account's balance and message count; Jasmin says "ND" (not defined) for unlimited."""
        response = self._request("GET", "/balance")
        try:
            data = response.json()["data"]
            return Balance(balance=_quota(data["balance"]), sms_count=_quota(data["sms_count"]))
        except (ValueError, TypeError, KeyError):
            raise _not_understood(response) from None

    def _request(self, method: str, path: str, **kwargs) -> httpx.Response:
        """Make one request; return the response when it is a 200, raise ProviderError otherwise."""
        try:
            response = self._client.request(method, path, extensions=self._extensions, **kwargs)
        except httpx.TimeoutException as exc:
            phase = "connect" if isinstance(exc, httpx.ConnectTimeout) else "answer"
            raise ProviderError(f"The SMS provider did not {phase} in time", retryable=True) from exc
        except httpx.TransportError as exc:
            raise ProviderError(f"Could not reach the SMS provider: {exc}", retryable=True) from exc
        except httpx.DecodingError as exc:
            raise ProviderError(f"The SMS provider's answer could not be decoded: {exc}", retryable=False) from exc
        if response.status_code == 200:
            return response
        retryable = response.status_code >= 500
        raise ProviderError(_provider_words(response), retryable=retryable, status=response.status_code)


def _quota(value: object) -> str | None:
    """A balance or count as text; Jasmin sends numbers, or "ND" for unlimited."""
    if value == _UNLIMITED:
        return None
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"not a quota: {value!r}")
