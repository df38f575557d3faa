"""Ledger and bill queries. The balance is always the ledger's sum, computed in the database."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.billing.models import Bill, LedgerEntry
from core.billing.policy import AgingItem

# Positive entries outside a bill that age on their own (a reversal re-opens bill debt instead).
STANDALONE_DEBITS = ("charge", "fee", "adjustment", "deposit")
STANDALONE_DUE_DAYS = 21


async def balance_cents(session: AsyncSession, *, account_id: int) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0)).where(
            LedgerEntry.account_id == account_id
        )
    )
    return int(total or 0)


async def balances_cents(session: AsyncSession, *, account_ids: Sequence[int]) -> dict[int, int]:
    if not account_ids:
        return {}
    rows = await session.execute(
        select(LedgerEntry.account_id, func.sum(LedgerEntry.amount_cents))
        .where(LedgerEntry.account_id.in_(list(account_ids)))
        .group_by(LedgerEntry.account_id)
    )
    found = {int(a): int(s or 0) for a, s in rows.all()}
    return {a: found.get(a, 0) for a in account_ids}


async def add_entry(session: AsyncSession, entry: LedgerEntry) -> LedgerEntry:
    session.add(entry)
    await session.flush()
    return entry


async def get_entry(session: AsyncSession, *, entry_id: int) -> LedgerEntry | None:
    return await session.get(LedgerEntry, entry_id)


async def payment_by_reference(session: AsyncSession, *, reference: str) -> LedgerEntry | None:
    return await session.scalar(
        select(LedgerEntry).where(LedgerEntry.kind == "payment", LedgerEntry.reference == reference)
    )


async def reversal_of(session: AsyncSession, *, entry_id: int) -> LedgerEntry | None:
    return await session.scalar(select(LedgerEntry).where(LedgerEntry.reverses_id == entry_id))


async def count_entries_since(
    session: AsyncSession, *, account_id: int, code: str, since: datetime
) -> int:
    total = await session.scalar(
        select(func.count()).select_from(LedgerEntry).where(
            LedgerEntry.account_id == account_id,
            LedgerEntry.code == code,
            LedgerEntry.posted_at >= since,
        )
    )
    return int(total or 0)


async def recent_bills(session: AsyncSession, *, account_id: int, limit: int = 12) -> list[Bill]:
    rows = await session.scalars(
        select(Bill).where(Bill.account_id == account_id)
        .order_by(Bill.issued_on.desc(), Bill.id.desc()).limit(limit)
    )
    return list(rows)


async def bills_since(session: AsyncSession, *, account_ids: Sequence[int], since: date) -> list[Bill]:
    if not account_ids:
        return []
    rows = await session.scalars(
        select(Bill).where(Bill.account_id.in_(list(account_ids)), Bill.issued_on > since)
    )
    return list(rows)


async def recent_payments(
    session: AsyncSession, *, account_id: int, limit: int = 12
) -> list[LedgerEntry]:
    rows = await session.scalars(
        select(LedgerEntry).where(LedgerEntry.account_id == account_id, LedgerEntry.kind == "payment")
        .order_by(LedgerEntry.posted_at.desc(), LedgerEntry.id.desc()).limit(limit)
    )
    return list(rows)


async def reversed_ids(session: AsyncSession, *, entry_ids: Sequence[int]) -> set[int]:
    if not entry_ids:
        return set()
    rows = await session.scalars(
        select(LedgerEntry.reverses_id).where(LedgerEntry.reverses_id.in_(list(entry_ids)))
    )
    return {int(r) for r in rows if r is not None}


async def last_payment_on(session: AsyncSession, *, account_id: int) -> date | None:
    at = await session.scalar(
        select(func.max(LedgerEntry.posted_at)).where(
            LedgerEntry.account_id == account_id, LedgerEntry.kind == "payment"
        )
    )
    if at is None:
        return None
    return at.date() if isinstance(at, datetime) else date.fromisoformat(str(at)[:10])


async def aging_items(
    session: AsyncSession, *, account_id: int, limit: int = 36
) -> list[AgingItem]:
    """The newest charges: bills, and debits posted outside any bill (fees, deposits)."""
    bills = await session.execute(
        select(Bill.issued_on, Bill.due_on, Bill.amount_cents)
        .where(Bill.account_id == account_id)
        .order_by(Bill.issued_on.desc()).limit(limit)
    )
    items = [AgingItem(i, d, int(a)) for i, d, a in bills.all()]
    loose = await session.execute(
        select(LedgerEntry.posted_at, LedgerEntry.amount_cents).where(
            LedgerEntry.account_id == account_id,
            LedgerEntry.bill_id.is_(None),
            LedgerEntry.kind.in_(STANDALONE_DEBITS),
            LedgerEntry.amount_cents > 0,
        ).order_by(LedgerEntry.posted_at.desc()).limit(limit)
    )
    for posted_at, amount in loose.all():
        day = posted_at.date()
        items.append(AgingItem(day, day + timedelta(days=STANDALONE_DUE_DAYS), int(amount)))
    return items
