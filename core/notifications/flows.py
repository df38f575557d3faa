"""Outage events → notice plans, in the transaction that changed the outage (the outbox).

Whoever runs an outage verb calls `plan_notices(session, events)` before committing, so the
notices exist exactly when the change does. `plan_missing` is the safety net that runs in the
relay: an update whose caller did not plan (the periodic roll-up tick promoting predictions to
probable, an older code path) is planned within seconds, and planning twice is a no-op.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import utcnow
from core.events import DomainEvent
from core.notifications import service
from core.notifications.models import NoticeBatch, NoticeKind
from core.notifications.policy import NoticePolicy
from core.notifications.service import Planned
from core.outages.enums import OutageStatus
from core.outages.events import (
    CrewAssigned,
    EtrChanged,
    OutageConfirmed,
    OutagePredicted,
    OutageProbable,
    OutageRestored,
)
from core.outages.models import Outage

# An outage restored longer ago than this is not told about any more by the sweep.
RESTORED_HORIZON = timedelta(hours=6)


async def plan_notices(session: AsyncSession, events: Iterable[DomainEvent], *,
                       policy: NoticePolicy, now: datetime | None = None) -> list[Planned]:
    now = now or utcnow()
    planned: list[Planned] = []
    for event in events:
        result = await _plan_for(session, event, policy=policy, now=now)
        if result is not None:
            planned.append(result)
    return planned


async def _plan_for(session: AsyncSession, event: DomainEvent, *, policy: NoticePolicy,
                    now: datetime) -> Planned | None:
    match event:
        case OutagePredicted() | OutageProbable() | OutageConfirmed() | CrewAssigned():
            if event.status not in policy.initial_on:
                return None
            outage = await session.get(Outage, event.outage_id)
            if outage is None or not outage.is_active:
                return None
            return await service.plan_initial(session, outage=outage, policy=policy,
                                              trigger=event.topic, now=now)
        case EtrChanged():
            outage = await session.get(Outage, event.outage_id)
            if outage is None or not outage.is_active:
                return None
            return await service.plan_etr(session, outage=outage, policy=policy,
                                          trigger=event.topic, now=now)
        case OutageRestored():
            if event.withdrawn:
                return None
            outage = await session.get(Outage, event.outage_id)
            if outage is None:
                return None
            return await service.plan_restoration(session, outage=outage, policy=policy,
                                                  trigger=event.topic, now=now)
    return None


async def plan_missing(session: AsyncSession, *, policy: NoticePolicy,
                       now: datetime | None = None) -> list[Planned]:
    """Plan what the outages' state calls for and nobody planned yet (idempotent)."""
    now = now or utcnow()
    planned: list[Planned] = []

    def has(kind: NoticeKind) -> object:
        return exists().where(and_(NoticeBatch.outage_id == Outage.id,
                                   NoticeBatch.kind == kind.value))

    statuses = sorted(s for s in policy.initial_on if s != OutageStatus.RESTORED)
    unalerted = await session.scalars(select(Outage).where(
        Outage.status.in_(statuses), Outage.merged_into_id.is_(None),
        ~has(NoticeKind.INITIAL)).order_by(Outage.id).limit(200))
    for outage in unalerted.all():
        if (done := await service.plan_initial(session, outage=outage, policy=policy,
                                               trigger="sweep", now=now)) is not None:
            planned.append(done)
    moved = await session.scalars(select(Outage).where(
        Outage.status != OutageStatus.RESTORED.value, Outage.merged_into_id.is_(None),
        Outage.etr_version > 0, has(NoticeKind.INITIAL),
        ~exists().where(and_(NoticeBatch.outage_id == Outage.id,
                             NoticeBatch.kind == NoticeKind.ETR.value,
                             NoticeBatch.version >= Outage.etr_version)),
    ).order_by(Outage.id).limit(200))
    for outage in moved.all():
        if (done := await service.plan_etr(session, outage=outage, policy=policy,
                                           trigger="sweep", now=now)) is not None:
            planned.append(done)
    restored = await session.scalars(select(Outage).where(
        Outage.status == OutageStatus.RESTORED.value, Outage.merged_into_id.is_(None),
        Outage.restored_at >= now - RESTORED_HORIZON, has(NoticeKind.INITIAL),
        ~has(NoticeKind.RESTORATION)).order_by(Outage.id).limit(200))
    for outage in restored.all():
        if (done := await service.plan_restoration(session, outage=outage, policy=policy,
                                                   trigger="sweep", now=now)) is not None:
            planned.append(done)
    return planned
