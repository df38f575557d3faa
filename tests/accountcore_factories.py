"""Factories for account-core tests: a customer with an account, bills, callers by role."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from core.accounts.models import Account
from core.accounts.service import open_account
from core.auth.service import Caller
from core.billing.models import Bill
from core.billing.service import BillLineIn, post_bill
from core.customers.models import Customer
from core.customers.service import add_contact, create_customer
from core.enums import Role

AGENT = Caller(name="token:amy", role=Role.AGENT)
AGENT_2 = Caller(name="token:bob", role=Role.AGENT)
SUPERVISOR = Caller(name="token:sue", role=Role.SUPERVISOR)
ADMIN = Caller(name="token:root", role=Role.ADMIN)
INTEGRATION = Caller(name="token:bank", role=Role.INTEGRATION)


async def customer_with_account(
    session: AsyncSession,
    *,
    kind: str = "residential",
    last_name: str = "Okafor",
    zip_code: str = "70001",
    phone: str | None = "+15045550101",
    email: str | None = None,
    credit_rating: str = "none",
    energy_assistance: bool = False,
) -> tuple[Customer, Account]:
    customer = await create_customer(
        session, kind="business" if kind == "commercial" else "person",
        first_name="Ngozi", last_name=last_name,
        business_name=f"{last_name} Bakery" if kind == "commercial" else None,
        mailing_zip=zip_code,
    )
    if phone:
        await add_contact(session, customer_id=customer.id, kind="phone", value=phone,
                          is_primary=True)
    if email:
        await add_contact(session, customer_id=customer.id, kind="email", value=email)
    account = await open_account(session, caller=ADMIN, customer_id=customer.id, kind=kind,
                                 credit_rating=credit_rating, energy_assistance=energy_assistance,
                                 opened_on=date(2025, 1, 1))
    return customer, account


async def bill(
    session: AsyncSession, *, account_id: int, issued_on: date, amount: str, days: int = 30,
    kind: str = "electric",
) -> Bill:
    return await post_bill(
        session, account_id=account_id, period_start=issued_on - timedelta(days=days),
        period_end=issued_on, issued_on=issued_on, due_on=issued_on + timedelta(days=21),
        lines=[BillLineIn(kind, Decimal(500), "kWh", Decimal(amount))],
    )
