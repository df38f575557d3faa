"""Account queries; financial verbs lock the account row so concurrent posts serialize."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.accounts.models import Account
from core.errors import NotFound


async def get_account(session: AsyncSession, *, account_id: int, for_update: bool = False) -> Account:
    """The account or a 404; `for_update` takes a row lock on PostgreSQL (SQLite has one writer)."""
    query = select(Account).where(Account.id == account_id)
    if for_update:
        query = query.with_for_update()
    account = await session.scalar(query)
    if account is None:
        raise NotFound(f"account {account_id} not found", account_id=account_id)
    return account


async def by_number(session: AsyncSession, *, number: str) -> Account | None:
    return await session.scalar(select(Account).where(Account.number == number.strip()))


async def of_customer(session: AsyncSession, *, customer_id: int) -> list[Account]:
    rows = await session.scalars(
        select(Account).where(Account.customer_id == customer_id).order_by(Account.id)
    )
    return list(rows)


async def in_stage(session: AsyncSession, *, stage: str) -> list[Account]:
    rows = await session.scalars(select(Account).where(Account.collection_stage == stage))
    return list(rows)


async def free_number(session: AsyncSession) -> str:
    """A random 10-digit account number not yet used (numbers are not guessable in sequence)."""
    while True:
        number = str(secrets.randbelow(9 * 10**9) + 10**9)
        if await by_number(session, number=number) is None:
            return number
