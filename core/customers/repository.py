"""Finding customers the ways a caller identifies: phone, email, account number, name and ZIP."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.accounts.models import Account
from core.customers.models import Contact, Customer
from core.errors import NotFound
from core.premises.models import Premise


async def get_customer(session: AsyncSession, *, customer_id: int) -> Customer:
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"customer {customer_id} not found", customer_id=customer_id)
    return customer


async def contacts_of(session: AsyncSession, *, customer_id: int) -> list[Contact]:
    rows = await session.scalars(
        select(Contact).where(Contact.customer_id == customer_id).order_by(Contact.id)
    )
    return list(rows)


async def by_contact(session: AsyncSession, *, kind: str, value: str) -> list[Customer]:
    rows = await session.scalars(
        select(Customer).join(Contact, Contact.customer_id == Customer.id)
        .where(Contact.kind == kind, Contact.value == value).order_by(Customer.id).distinct()
    )
    return list(rows)


async def by_account_number(session: AsyncSession, *, number: str) -> list[Customer]:
    rows = await session.scalars(
        select(Customer).join(Account, Account.customer_id == Customer.id)
        .where(Account.number == number)
    )
    return list(rows)


async def by_name_and_zip(session: AsyncSession, *, name: str, zip_code: str) -> list[Customer]:
    """Last name or business name, case-insensitive; the ZIP of mail or of a served premise."""
    wanted = name.strip().lower()
    served_zip = (
        select(Account.customer_id).join(Premise, Premise.account_id == Account.id)
        .where(Premise.zip == zip_code)
    )
    rows = await session.scalars(
        select(Customer).where(
            or_(func.lower(Customer.last_name) == wanted,
                func.lower(Customer.business_name) == wanted),
            or_(Customer.mailing_zip == zip_code, Customer.id.in_(served_zip)),
        ).order_by(Customer.id).limit(50)
    )
    return list(rows)
