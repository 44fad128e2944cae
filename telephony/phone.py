"""Phone numbers, read with phonenumbers against MAYDAY_PHONE_REGION and kept in one form: the digits a phone
in that region dials. A number of the region is written nationally (`0700771301`), any other with the
region's international prefix (`00442079460000`), so a DID, a number to call and a route's leading digits
compare as the PBX sees them."""

from __future__ import annotations

import re

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from phonenumbers import NumberParseException, ValidationResult

_SHAPE = re.compile(r"\+?[0-9]{3,20}")
_WHY = {
    ValidationResult.INVALID_COUNTRY_CODE: "its country code is not one in use",
    ValidationResult.TOO_SHORT: "it is too short",
    ValidationResult.TOO_LONG: "it is too long",
    ValidationResult.INVALID_LENGTH: "it has a length no number there has",
}


def parsed(value: object, what: str = "number") -> phonenumbers.PhoneNumber:
    """A number read against MAYDAY_PHONE_REGION, one that can be dialled; ValidationError naming the rule."""
    region = settings.MAYDAY_PHONE_REGION
    if not isinstance(value, str) or not _SHAPE.fullmatch(value):
        raise ValidationError(
            f"{value!r} is not a valid {what}: use 3-20 digits with an optional leading '+', "
            "no spaces or other characters.",
            code="invalid",
        )
    try:
        number = phonenumbers.parse(value, region)
    except NumberParseException as exc:
        raise ValidationError(f"{value!r} is not a valid {what}: {exc._msg}", code="invalid") from exc
    why = phonenumbers.is_possible_number_with_reason(number)
    if why != ValidationResult.IS_POSSIBLE:
        raise ValidationError(
            f"{value!r} is not a valid {what}: {_WHY.get(why, 'it cannot be dialled')} "
            f"(read as a number of {region} unless it starts with '+').",
            code="invalid",
        )
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(
            f"{value!r} is not a valid {what}: no number in "
            f"{phonenumbers.region_code_for_number(number) or region} starts that way "
            f"(read as a number of {region} unless it starts with '+').",
            code="invalid",
        )
    return number


def e164(value: object, what: str = "number") -> str:
    """+<country code><number>, as SMS gateways want it."""
    return phonenumbers.format_number(parsed(value, what), phonenumbers.PhoneNumberFormat.E164)


def dialable(value: object, what: str = "number") -> str:
    """The number as dialled from MAYDAY_PHONE_REGION; ValidationError naming the rule it breaks."""
    number = parsed(value, what)
    region = settings.MAYDAY_PHONE_REGION
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if number.country_code == meta.country_code:
        return re.sub(r"\D", "", phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL))
    # Regions with several international prefixes (Uganda: 000, 005, 007) name none preferred: 00 is ITU's.
    prefix = meta.preferred_international_prefix or (meta.international_prefix or "").strip()
    prefix = prefix if prefix.isdigit() else "00"
    return f"{prefix}{number.country_code}{phonenumbers.national_significant_number(number)}"


def spellings(number: str) -> list[str]:
    """The ways a trunk may hand over a number kept in the dialled form: as kept, in E.164 with and without the
    `+` (`0323300245`, `+256323300245`, `256323300245`)."""
    full = e164(number)
    return list(dict.fromkeys([number, full, full[1:]]))
