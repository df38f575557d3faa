"""Deposit queries."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.deposits.models import Deposit
from core.errors import NotFound

OPEN_STATUSES = ("required", "held")


async def get_deposit(session: AsyncSession, *, deposit_id: int) -> Deposit:
    deposit = await session.get(Deposit, deposit_id)
    if deposit is None:
        raise NotFound(f"deposit {deposit_id} not found", deposit_id=deposit_id)
    return deposit


async def open_for(session: AsyncSession, *, account_id: int) -> Deposit | None:
    return await session.scalar(
        select(Deposit).where(Deposit.account_id == account_id,
                              Deposit.status.in_(OPEN_STATUSES)).order_by(Deposit.id.desc())
    )


async def of_account(session: AsyncSession, *, account_id: int) -> list[Deposit]:
    rows = await session.scalars(
        select(Deposit).where(Deposit.account_id == account_id).order_by(Deposit.id)
    )
    return list(rows)
