"""Storm queries: the state row and the report rate it is switched by."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from core.outages.models import OutageReport
from core.storm.models import STORM_ROW, StormState


async def state_for_update(session: AsyncSession, now: datetime) -> StormState:
    """The one row, created on first use, locked for the rest of the transaction."""
    state = await session.get(StormState, STORM_ROW, with_for_update=True,
                              populate_existing=True)
    if state is None:
        dialect = session.get_bind().dialect.name
        insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
        await session.execute(insert(StormState).values(
            id=STORM_ROW, active=False, auto=True, source="auto", message="", changed_at=now,
            version=0).on_conflict_do_nothing(index_elements=["id"]))
        state = await session.get(StormState, STORM_ROW, with_for_update=True,
                                  populate_existing=True)
    assert state is not None
    return state


async def read_state(session: AsyncSession) -> StormState | None:
    return await session.get(StormState, STORM_ROW, populate_existing=True)


async def reports_since(session: AsyncSession, since: datetime) -> int:
    return int(await session.scalar(
        select(func.count()).select_from(OutageReport).where(OutageReport.created_at >= since))
        or 0)


async def reports_per_minute_series(session: AsyncSession, *, now: datetime,
                                    minutes: int) -> list[int]:
    """Counts for each of the last `minutes` minutes, oldest first, counted by the database."""
    since = now - timedelta(minutes=minutes)
    if session.get_bind().dialect.name == "postgresql":
        offset = func.floor(func.extract("epoch", OutageReport.created_at - since) / 60)
    else:
        offset = func.cast((func.julianday(OutageReport.created_at)
                            - func.julianday(since.replace(tzinfo=None))) * 1440, Integer())
    rows = await session.execute(
        select(offset.label("m"), func.count()).where(OutageReport.created_at >= since)
        .group_by("m"))
    series = [0] * minutes
    for index, count in rows.tuples():
        if index is not None and 0 <= int(index) < minutes:
            series[int(index)] += int(count)
    return series
