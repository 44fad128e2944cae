"""The one place that decides what may reach a PBX.

Every name or number that ends up in an AMI or ESL line passes through here,
both when it is saved (model and API validation) and again just before a
backend writes it to a socket. The patterns are allow-lists matched against
the whole value, so CR/LF (header injection), whitespace (ESL splits on it),
`@` (ESL agent ids are `ext@domain`; dial strings excepted), `;` and `|`
(dialplan and list separators) can never get through.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_NUMBER = re.compile(r"[0-9*#+]{1,80}")
_DID = re.compile(r"\+?[0-9]{3,20}")
_REASON = re.compile(r"[A-Za-z0-9_.-]+( [A-Za-z0-9_.-]+)*")
_DOMAIN = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*")
_DIGITS = re.compile(r"[0-9]+")
# A key or value of the routing data (AstDB, mod_hash): names, digits and the `|` between fields, nothing else.
_ROUTING = re.compile(r"[A-Za-z0-9_.+|/-]{1,255}")
_SECRET = re.compile(r"[\x21-\x7e]{1,128}")
# A FreeSWITCH dial string such as `[call_timeout=20]user/1005@default` or `{ignore_early_media=true}sofia/
# gateway/gw/+2547...`: no spaces or quotes (callcenter_config splits on them), no `|` (the columns of
# `agent list`), no `;`, `$` or parentheses (no dialplan separators, variable expansion or API calls).
_CONTACT = re.compile(r"[A-Za-z0-9_.@/:=,%+*#{}\[\]-]{1,255}")

REASON_MAX = 64
DOMAIN_MAX = 253
AGENT_NUMBER_MAX = 86400  # a day: more is a typo, not a setting


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


def _digits(value: object, what: str, low: int, high: int) -> str:
    if not isinstance(value, str) or not _DIGITS.fullmatch(value) or not low <= len(value) <= high:
        raise ValidationError(
            f"{value!r} is not valid as {what}: use {low}-{high} digits, no spaces or other characters.",
            code="invalid",
        )
    return value


def validate_prefix(value: object) -> str:
    """The digits an agent dials before a number to choose the DID presented."""
    return _digits(value, "prefix", 1, 4)


def validate_leading_digits(value: object) -> str:
    """The start of the numbers an outbound route takes."""
    return _digits(value, "leading digits", 1, 10)


def validate_prepend(value: object) -> str:
    """Digits put in front of a number before it goes to the trunk (a country code, a carrier prefix)."""
    return _digits(value, "prepend", 1, 10)


def validate_routing(value: object) -> str:
    """A key or a value of the routing data as written to AstDB or mod_hash."""
    return _check(_ROUTING, value, "routing entry", "use letters, digits, '_', '.', '+', '|', '/' or '-'")


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


def validate_contact(value: object) -> str:
    """A mod_callcenter agent contact (the dial string FreeSWITCH calls to offer the agent a call)."""
    return _check(
        _CONTACT,
        value,
        "contact",
        "use up to 255 letters, digits and _ . @ / : = , % + * # { } [ ] - (no spaces, quotes, '|', ';' or '$')",
    )


def validate_contact_template(value: object) -> str:
    """The contact of an agent Mayday creates, with `{extension}` (and optionally `{domain}`) filled in later."""
    validate_contact(value)
    if "{extension}" not in value:
        raise ValidationError(
            f"{value!r} is not a valid contact template: it must contain {{extension}}, "
            "or every agent would be called at the same number.",
            code="invalid",
        )
    return value


def validate_agent_number(value: object) -> int:
    """mod_callcenter agent counts and delays (max_no_answer, wrap_up_time…): a whole number, 0 to a day."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= AGENT_NUMBER_MAX:
        raise ValidationError(
            f"{value!r} is not a valid agent setting: use a whole number from 0 to {AGENT_NUMBER_MAX}.", code="invalid"
        )
    return value
