"""Customer and contact verbs, and finding a customer by whatever the caller gives us."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import utcnow
from core.customers import repository
from core.customers.models import Contact, Customer
from core.errors import Conflict, Invalid
from core.phones import to_e164

CONTACT_KINDS = ("phone", "email")


def normalize_contact(kind: str, value: str, *, region: str = "US") -> str:
    """Phones become E.164, emails lower-case: one spelling, so lookups match."""
    if kind == "phone":
        return to_e164(value, region)
    if kind == "email":
        email = value.strip().lower()
        local, at, domain = email.partition("@")
        if not at or not local or "." not in domain:
            raise Invalid("not an email address")
        return email
    raise Invalid(f"unknown contact kind {kind!r}")


async def create_customer(
    session: AsyncSession,
    *,
    kind: str = "person",
    first_name: str | None = None,
    last_name: str | None = None,
    business_name: str | None = None,
    mailing_address: str | None = None,
    mailing_city: str | None = None,
    mailing_state: str | None = None,
    mailing_zip: str | None = None,
    language: str = "en",
) -> Customer:
    if kind == "business" and not business_name:
        raise Invalid("a business customer needs a business name")
    if kind == "person" and not last_name:
        raise Invalid("a person needs a last name")
    customer = Customer(kind=kind, first_name=first_name, last_name=last_name,
                        business_name=business_name, mailing_address=mailing_address,
                        mailing_city=mailing_city, mailing_state=mailing_state,
                        mailing_zip=mailing_zip, language=language)
    session.add(customer)
    await session.flush()
    return customer


async def add_contact(
    session: AsyncSession,
    *,
    customer_id: int,
    kind: str,
    value: str,
    is_primary: bool = False,
    language: str | None = None,
    preferred_channel: str = "sms",
    outage_alerts: bool = True,
    region: str = "US",
) -> Contact:
    customer = await repository.get_customer(session, customer_id=customer_id)
    normalized = normalize_contact(kind, value, region=region)
    contact = Contact(customer_id=customer.id, kind=kind, value=normalized,
                      is_primary=is_primary, language=language or customer.language,
                      preferred_channel=preferred_channel, outage_alerts=outage_alerts,
                      consent_at=utcnow() if outage_alerts else None)
    try:
        async with session.begin_nested():
            session.add(contact)
            await session.flush()
    except IntegrityError as exc:
        raise Conflict("this customer already has that contact") from exc
    return contact


async def find_customers(
    session: AsyncSession,
    *,
    phone: str | None = None,
    email: str | None = None,
    account_number: str | None = None,
    name: str | None = None,
    zip_code: str | None = None,
    region: str = "US",
) -> list[Customer]:
    """By phone (any format, matched as E.164), email, account number, or name with ZIP."""
    if phone:
        return await repository.by_contact(session, kind="phone", value=to_e164(phone, region))
    if email:
        return await repository.by_contact(session, kind="email",
                                           value=normalize_contact("email", email))
    if account_number:
        return await repository.by_account_number(session, number=account_number.strip())
    if name and zip_code:
        return await repository.by_name_and_zip(session, name=name, zip_code=zip_code.strip())
    raise Invalid("look up by phone, email, account number, or name with ZIP")
