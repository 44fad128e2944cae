"""The one place that decides what may reach a PBX.

Every name or number that ends up in an AMI or ESL line passes through here,
both when it is saved (model and API validation) and again just before a
backend writes it to a socket. The patterns are allow-lists matched against
the whole value, so CR/LF (header injection), whitespace (ESL splits on it),
`@` (ESL agent ids are `ext@domain`), `;` and `|` (dialplan and list
separators) can never get through.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_NUMBER = re.compile(r"[0-9*#+]{1,80}")
_DID = re.compile(r"\+?[0-9]{3,20}")
_REASON = re.compile(r"[A-Za-z0-9_.-]+( [A-Za-z0-9_.-]+)*")
_DOMAIN = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*")
_SECRET = re.compile(r"[\x21-\x7e]{1,128}")

REASON_MAX = 64
DOMAIN_MAX = 253


def _check(pattern: re.Pattern[str], value: object, what: str, rule: str, max_len: int | None = None) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value) or (max_len and len(value) > max_len):
        raise ValidationError(f"{value!r} is not a valid {what}: {rule}.", code="invalid")
    return value


def validate_name(value: object) -> str:
    """Queue, endpoint and extension names."""
    return _check(_NAME, value, "name", "use 1-64 letters, digits, '_', '.' or '-' (no spaces)")


def validate_extension(value: object) -> str:
    return _check(_NAME, value, "extension", "use 1-64 letters, digits, '_', '.' or '-' (no spaces)")


def validate_number(value: object) -> str:
    """A dialled number."""
    return _check(_NUMBER, value, "number", "use 1-80 digits, '*', '#' or '+'")


def validate_did(value: object) -> str:
    return _check(_DID, value, "DID", "use 3-20 digits with an optional leading '+'")


def validate_reason(value: object) -> str:
    """Pause reasons: words of letters, digits, '_', '.', '-' separated by single spaces."""
    return _check(
        _REASON,
        value,
        "reason",
        f"use up to {REASON_MAX} letters, digits, '_', '.', '-' and single spaces between words",
        REASON_MAX,
    )


def validate_domain(value: object) -> str:
    """A FreeSWITCH domain or a PBX host name / IPv4 address."""
    return _check(
        _DOMAIN, value, "domain", "use a host name or IPv4 address (letters, digits, '-' and '.')", DOMAIN_MAX
    )


def validate_secret(value: object) -> str:
    """Passwords sent in AMI Login / ESL auth: printable, no spaces or line breaks."""
    return _check(_SECRET, value, "secret", "use 1-128 printable characters without spaces or line breaks")
