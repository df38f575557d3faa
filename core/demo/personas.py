"""Well-known demo customers with fixed phones, names and account numbers, for READMEs and demos.

Every phone number the demo utility holds is fictional: exchange 555 in NANP area codes.
The personas use the 555-01XX lines reserved for fiction; generated customers never do.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.demo.names import ZIPS


def account_number(account_id: int) -> str:
    """Eight-digit serial plus a Luhn check digit, so a mistyped number is caught before lookup."""
    serial = f"{10_000_000 + account_id:08d}"
    total = 0
    for position, char in enumerate(reversed(serial)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return serial + str((10 - total % 10) % 10)


@dataclass(frozen=True)
class Persona:
    key: str
    name: str
    phone: str
    account_number: str
    zip: str
    language: str
    story: str
    # What the generator builds for them (not part of the public description).
    first_name: str | None = None
    last_name: str | None = None
    business_name: str | None = None
    email: str | None = None
    nicknames: tuple[str, ...] = ("",)
    behavior: str = "prompt"
    fresh_bill: bool = False  # last bill issued a week ago and not yet paid


def _persona(n: int, **fields: object) -> Persona:
    return Persona(account_number=account_number(n), zip=ZIPS[0], **fields)  # type: ignore[arg-type]


DEMO_PERSONAS: tuple[Persona, ...] = (
    _persona(
        1, key="resident", name="Dana Whitfield", phone="+14055550101", language="en",
        story="residential, one premise, pays on time",
        first_name="Dana", last_name="Whitfield", email="dana.whitfield@example.com",
    ),
    _persona(
        2, key="landlord", name="Robert Okafor", phone="+14055550102", language="en",
        story="landlord, three premises nicknamed Home, Maple duplex and Cedar rental",
        first_name="Robert", last_name="Okafor", email="robert.okafor@example.net",
        nicknames=("Home", "Maple duplex", "Cedar rental"),
    ),
    _persona(
        3, key="past_due", name="Tanya Brooks", phone="+14055550103", language="en",
        story="two bills past due, no arrangement in the last year: eligible for one",
        first_name="Tanya", last_name="Brooks", behavior="past_due",
    ),
    _persona(
        4, key="spanish", name="Lucía Hernández", phone="+14055550104", language="es",
        story="prefers Spanish, one premise, current bill not yet due",
        first_name="Lucía", last_name="Hernández", email="lucia.hernandez@example.org",
        fresh_bill=True,
    ),
    _persona(
        5, key="commercial", name="Riverbend Bakery LLC", phone="+14055550105", language="en",
        story="commercial account, two premises (Main shop, Commissary), deposit held",
        business_name="Riverbend Bakery LLC", email="office@riverbend-bakery.example.com",
        nicknames=("Main shop", "Commissary"),
    ),
    _persona(
        6, key="arrangement", name="Walter Price", phone="+14055550106", language="en",
        story="in an active payment arrangement, installments on schedule",
        first_name="Walter", last_name="Price", behavior="arrangement",
    ),
    _persona(
        7, key="broken_arrangement", name="Jasmine Reed", phone="+14055550107", language="en",
        story="broke an arrangement this year, past due: not eligible for a new one",
        first_name="Jasmine", last_name="Reed", behavior="broken",
    ),
)
