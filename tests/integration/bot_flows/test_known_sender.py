"""Who is texting (bot/identity.known_sender), in the one statement the bot asks on most
turns: a shared number, a customer with no open account, closed accounts, strangers."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from bot.identity import known_sender
from core.accounts.models import Account
from core.customers.models import Contact, Customer
from core.premises.models import Premise

SHARED = "+15045550140"


async def _customer(session: AsyncSession, first_name: str, phone: str) -> Customer:
    customer = Customer(first_name=first_name, last_name="Okafor")
    session.add(customer)
    await session.flush()
    session.add(Contact(customer_id=customer.id, kind="phone", value=phone))
    return customer


async def _premise(session: AsyncSession, customer: Customer, number: str, address: str, *,
                   status: str = "active", unit: str | None = None) -> Premise:
    account = Account(number=number, customer_id=customer.id, status=status,
                      opened_on=date(2020, 1, 1))
    session.add(account)
    await session.flush()
    premise = Premise(account_id=account.id, address=address, unit=unit, city="Riverbend",
                      state="LA", zip="70112")
    session.add(premise)
    await session.flush()
    return premise


async def test_a_shared_number_knows_both_customers_premises_in_order(
        session: AsyncSession) -> None:
    ada = await _customer(session, "Ada", SHARED)
    ben = await _customer(session, "Ben", SHARED)
    first = await _premise(session, ben, "100200300", "1 Oak St", unit="Apt 2")
    second = await _premise(session, ada, "100200301", "2 Elm St", status="pending")
    await _premise(session, ada, "100200302", "3 Pine St", status="closed")
    await session.flush()

    known = await known_sender(session, SHARED)
    assert known is not None
    assert known.first_name == "Ada"  # the customer on file first
    assert [(p.premise_id, p.account_number, p.label) for p in known.premises] == [
        (first.id, "100200300", "1 Oak St Apt 2"), (second.id, "100200301", "2 Elm St")]


async def test_a_customer_without_open_accounts_is_known_with_no_premises(
        session: AsyncSession) -> None:
    cara = await _customer(session, "Cara", "+15045550141")
    await _premise(session, cara, "100200303", "4 Ash St", status="final")
    await session.flush()
    known = await known_sender(session, "+15045550141")
    assert known is not None and known.first_name == "Cara" and known.premises == []
    assert await known_sender(session, "+15045550199") is None
