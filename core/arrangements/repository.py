"""Arrangement queries, and applying a payment to the installments it pays."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.arrangements.models import Arrangement, Installment


async def active_for(session: AsyncSession, *, account_id: int) -> Arrangement | None:
    return await session.scalar(
        select(Arrangement).where(Arrangement.account_id == account_id,
                                  Arrangement.status == "active")
    )


async def last_broken_on(session: AsyncSession, *, account_id: int) -> date | None:
    return await session.scalar(
        select(func.max(Arrangement.ended_on)).where(
            Arrangement.account_id == account_id, Arrangement.status == "broken"
        )
    )


async def count_broken(session: AsyncSession, *, account_id: int) -> int:
    total = await session.scalar(
        select(func.count()).select_from(Arrangement).where(
            Arrangement.account_id == account_id, Arrangement.status == "broken"
        )
    )
    return int(total or 0)


async def of_account(session: AsyncSession, *, account_id: int, limit: int = 10) -> list[Arrangement]:
    rows = await session.scalars(
        select(Arrangement).where(Arrangement.account_id == account_id)
        .order_by(Arrangement.created_on.desc(), Arrangement.id.desc()).limit(limit)
    )
    return list(rows)


async def installments_of(session: AsyncSession, *, arrangement_id: int) -> list[Installment]:
    rows = await session.scalars(
        select(Installment).where(Installment.arrangement_id == arrangement_id)
        .order_by(Installment.seq)
    )
    return list(rows)


async def apply_payment(session: AsyncSession, *, account_id: int, cents: int) -> int:
    """Pay the active arrangement's installments in order; returns the cents applied."""
    arrangement = await active_for(session, account_id=account_id)
    if arrangement is None or cents <= 0:
        return 0
    applied = 0
    installments = await installments_of(session, arrangement_id=arrangement.id)
    for installment in installments:
        open_cents = installment.amount_cents - installment.paid_cents
        if open_cents <= 0:
            continue
        share = min(open_cents, cents - applied)
        installment.paid_cents += share
        applied += share
        if applied >= cents:
            break
    if all(i.paid_cents >= i.amount_cents for i in installments):
        arrangement.status = "completed"
        arrangement.ended_on = max(i.due_on for i in installments)
    await session.flush()
    return applied
