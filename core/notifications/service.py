"""Planning verbs: turn one outage update into its notice rows, inside the caller's transaction
(the outbox). They flush, never commit; each is idempotent (the batch's unique key), so the
event path and the catch-up sweep can both call them."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import utcnow
from core.notifications import repository
from core.notifications.models import NoticeBatch, NoticeKind, NoticeStatus
from core.notifications.policy import NoticePolicy
from core.outages import repository as outages
from core.outages.enums import Device
from core.outages.models import Outage

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Planned:
    """One planned update: which outage, which kind, how many notices it wrote."""

    outage_id: int
    kind: NoticeKind
    version: int
    notices: int
    batch_id: int


async def plan_initial(session: AsyncSession, *, outage: Outage, policy: NoticePolicy,
                       trigger: str, now: datetime | None = None) -> Planned | None:
    """"We know your power is out": once per outage, to everyone subscribed under it, except
    addresses already alerted for an outage that has since been merged into this one."""
    now = now or utcnow()
    if outage.merged_into_id is not None:
        return None
    batch_id = await repository.insert_batch(
        session, outage_id=outage.id, kind=NoticeKind.INITIAL, version=0, etr=outage.etr,
        urgent=True, trigger=trigger, now=now)
    if batch_id is None:
        return None
    merged = await outages.merged_into(session, outage.id)
    count = await repository.plan(
        session, batch_id=batch_id, outage_id=outage.id, kind=NoticeKind.INITIAL, version=0,
        devices=[outage.device, *(m.device for m in merged)], status=NoticeStatus.PENDING,
        not_before=now, urgent=True, now=now, already_told_by=[m.id for m in merged])
    return await _planned(session, batch_id, outage.id, NoticeKind.INITIAL, 0, count)


async def plan_etr(session: AsyncSession, *, outage: Outage, policy: NoticePolicy, trigger: str,
                   now: datetime | None = None) -> Planned | None:
    """A new estimate, if it moved enough against the one customers last heard; supersedes
    every unsent older estimate. Not urgent: inside quiet hours it waits."""
    now = now or utcnow()
    if outage.merged_into_id is not None:
        return None
    batches = await repository.batches_of(session, outage.id)
    if any(b.kind == NoticeKind.RESTORATION for b in batches):
        return None
    told = [b for b in batches if b.kind in (NoticeKind.INITIAL, NoticeKind.ETR)]
    if not told:
        return None  # the initial alert will carry the ETR when it goes
    if any(b.kind == NoticeKind.ETR and b.version >= outage.etr_version for b in told):
        return None
    if not policy.etr_worth_telling(told[-1].etr, outage.etr):
        return None
    batch_id = await repository.insert_batch(
        session, outage_id=outage.id, kind=NoticeKind.ETR, version=outage.etr_version,
        etr=outage.etr, urgent=policy.is_urgent(NoticeKind.ETR), trigger=trigger, now=now)
    if batch_id is None:
        return None
    await repository.supersede(session, outage_ids=[outage.id], kinds=[NoticeKind.ETR],
                               below_version=outage.etr_version, now=now)
    merged = await outages.merged_into(session, outage.id)
    not_before = policy.not_before(NoticeKind.ETR, now)
    status = NoticeStatus.HELD_QUIET_HOURS if not_before > now else NoticeStatus.PENDING
    count = await repository.plan(
        session, batch_id=batch_id, outage_id=outage.id, kind=NoticeKind.ETR,
        version=outage.etr_version, devices=[outage.device, *(m.device for m in merged)],
        status=status, not_before=not_before, urgent=policy.is_urgent(NoticeKind.ETR), now=now)
    return await _planned(session, batch_id, outage.id, NoticeKind.ETR, outage.etr_version,
                          count)


async def plan_restoration(session: AsyncSession, *, outage: Outage, policy: NoticePolicy,
                           trigger: str, now: datetime | None = None) -> Planned | None:
    """"Power is back; reply OFF if you are still out". Supersedes whatever of this outage is
    still unsent. An outage nobody was alerted about tells only those who reported it."""
    now = now or utcnow()
    if outage.merged_into_id is not None:
        return None
    merged = await _merged_ever(session, outage.id)
    ids = [outage.id, *(m.id for m in merged)]
    alerted = await session.scalar(select(NoticeBatch.id).where(
        NoticeBatch.outage_id.in_(ids), NoticeBatch.kind == NoticeKind.INITIAL.value).limit(1))
    batch_id = await repository.insert_batch(
        session, outage_id=outage.id, kind=NoticeKind.RESTORATION, version=0, etr=None,
        urgent=True, trigger=trigger, now=now)
    if batch_id is None:
        return None
    await repository.supersede(session, outage_ids=ids,
                               kinds=[NoticeKind.INITIAL, NoticeKind.ETR], now=now)
    devices: list[Device] = [outage.device, *(m.device for m in merged)]
    count = await repository.plan(
        session, batch_id=batch_id, outage_id=outage.id, kind=NoticeKind.RESTORATION,
        version=0, devices=devices, status=NoticeStatus.PENDING, not_before=now, urgent=True,
        now=now, reporters_of=None if alerted else ids)
    return await _planned(session, batch_id, outage.id, NoticeKind.RESTORATION, 0, count)


async def _merged_ever(session: AsyncSession, outage_id: int) -> list[Outage]:
    """Outages merged (directly or not) into this one, restored or not: at restoration the
    children are restored together with their parent, so `merged_into` no longer lists them."""
    found: list[Outage] = []
    frontier = [outage_id]
    while frontier:
        children = (await session.scalars(
            select(Outage).where(Outage.merged_into_id.in_(frontier)))).all()
        found.extend(children)
        frontier = [c.id for c in children]
    return found


async def _planned(session: AsyncSession, batch_id: int, outage_id: int, kind: NoticeKind,
                   version: int, count: int) -> Planned:
    await repository.set_planned(session, batch_id, count)
    log.info("planned %d %s notices for outage %s (v%d)", count, kind.value, outage_id, version)
    return Planned(outage_id=outage_id, kind=kind, version=version, notices=count,
                   batch_id=batch_id)
