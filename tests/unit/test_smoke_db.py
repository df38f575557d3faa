from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from core.accounts.models import Account
from core.audit.models import AuditEntry
from core.customers.models import Customer


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
