"""Phone numbers are E.164 everywhere inside; anything else is refused at the edge."""

from __future__ import annotations

import phonenumbers

from core.errors import Invalid


def to_e164(raw: str, region: str = "US") -> str:
    text = (raw or "").strip()
    text = text.removeprefix("whatsapp:")
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise Invalid(f"not a phone number: {mask_phone(text)}") from exc
    if not phonenumbers.is_possible_number(parsed):
        raise Invalid(f"not a possible phone number: {mask_phone(text)}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(number: str) -> str:
    """Keep the last two digits only: enough for a person to recognise, useless to a scraper."""
    digits = [c for c in number if c.isdigit()]
    if len(digits) <= 2:
        return "*" * len(digits)
    return "+" + "*" * (len(digits) - 2) + "".join(digits[-2:])


def is_short_code(sender: str) -> bool:
    """A US/CA short code (4 to 6 digits) rather than a phone number: kept as it is."""
    return sender.isdigit() and 4 <= len(sender) <= 6
