from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from core.accounts.models import Account
from core.audit.models import AuditEntry
from core.customers.models import Customer
from core.db import make_engine, make_sessionmaker, write_lock


async def test_times_come_back_aware_utc(session) -> None:
    customer = Customer(first_name="Ada", last_name="Lovelace", mailing_zip="70001")
    session.add(customer)
    await session.flush()
    account = Account(number="100001", customer_id=customer.id, opened_on=date(2026, 1, 1))
    session.add(account)
    await session.commit()
    session.expunge_all()
    loaded = (await session.execute(select(Account))).scalar_one()
    assert loaded.created_at.tzinfo is not None
    assert loaded.created_at.utcoffset().total_seconds() == 0


async def test_naive_datetime_is_refused(session) -> None:
    session.add(Customer(first_name="N", created_at=datetime(2026, 1, 1)))
    with pytest.raises(Exception, match="naive"):
        await session.flush()


async def test_audit_log_is_append_only(session) -> None:
    session.add(AuditEntry(actor="a", actor_role="agent", action="x", entity="account",
                           at=datetime.now(UTC)))
    await session.commit()
    with pytest.raises((DBAPIError, IntegrityError)):
        await session.execute(text("UPDATE audit_entries SET actor = 'mallory'"))
    await session.rollback()
    with pytest.raises((DBAPIError, IntegrityError)):
        await session.execute(text("DELETE FROM audit_entries"))


async def test_write_lock_gives_sqlite_one_serial_view(sqlite_url) -> None:
    # A routing pass reads, decides, then writes: no other writer may land between its reads.
    engine = make_engine(sqlite_url)
    sessions = make_sessionmaker(engine)
    try:
        async with sessions() as holder:
            await write_lock(holder)
            await write_lock(holder)  # idempotent inside one transaction

            async def other_writer() -> None:
                async with sessions() as other, other.begin():
                    other.add(Customer(first_name="Late", mailing_zip="70001"))

            writer = asyncio.create_task(other_writer())
            await asyncio.sleep(0.3)
            assert not writer.done(), "a second writer got in while the lock was held"
            assert (await holder.scalars(select(Customer))).all() == []
            await holder.commit()
        await asyncio.wait_for(writer, 10)
        async with sessions() as check:
            assert [c.first_name for c in await check.scalars(select(Customer))] == ["Late"]
    finally:
        await engine.dispose()
