"""Outage writes that operators and the OMS share: audited, published after commit, applied once.

A write opens its own unit of work, so its domain events reach the bus only after the
transaction has committed: a write that fails announces nothing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit.models import AuditEntry
from core.audit.service import record_audit
from core.auth.service import Caller
from core.clock import utcnow
from core.customers.models import Contact
from core.db import unit_of_work
from core.enums import Channel, Role
from core.errors import Conflict, DomainError, Invalid, NotFound, Unavailable
from core.events import DomainEvent
from core.notifications.flows import plan_notices
from core.outages import repository, service
from core.outages.enums import ReportSource
from core.outages.models import Outage
from core.outages.oms import (
    CauseEvent,
    ConfirmEvent,
    CrewEvent,
    DeviceRef,
    EtrEvent,
    LastGaspEvent,
    MergeEvent,
    OmsEvent,
    OmsEventResult,
    RestoreEvent,
    resolve_device,
)
from core.outages.service import OutageChange, ReportOutcome
from core.premises.models import Premise, ServicePoint
from core.runtime import Runtime

log = logging.getLogger(__name__)

OMS_CALLER = Caller(name="oms", role=Role.INTEGRATION)
# How far back the audit trail is searched for an OMS event_id already applied.
OMS_REPLAY_HORIZON = timedelta(days=7)


@dataclass(slots=True)
class Write:
    """One transaction's session, who is writing, and the events to announce after commit."""

    session: AsyncSession
    caller: Caller
    events: list[DomainEvent] = field(default_factory=list)


@asynccontextmanager
async def writing(runtime: Runtime, caller: Caller) -> AsyncIterator[Write]:
    async with unit_of_work(runtime.sessions) as session:
        write = Write(session, caller)
        yield write
        policy = runtime.extras.get("notice_policy")
        if policy is not None and write.events:
            # The outbox: notices are planned in the outage change's own transaction, so a
            # confirmed or restored outage can never commit without its notices (or twice).
            await plan_notices(session, write.events, policy=policy)
    for event in write.events:
        try:
            await runtime.bus.publish(event.topic, event.to_payload())
        except Exception:  # the write stands: a lost broadcast must not turn into a 500
            log.exception("outage event %s not published", event.topic)


def snapshot(outage: Outage | None) -> dict[str, Any] | None:
    """What the audit trail keeps of an outage before and after a change."""
    if outage is None:
        return None
    return {
        "status": outage.status,
        "cause": outage.cause,
        "crew": outage.crew,
        "etr": outage.etr.isoformat() if outage.etr else None,
        "etr_version": outage.etr_version,
        "customers_affected": outage.customers_affected,
        "merged_into_id": outage.merged_into_id,
        "version": outage.version,
    }


# -- the audited verbs -----------------------------------------------------------------------


async def operate(
    write: Write, action: str, outage_id: int | None, verb: Callable[[], Awaitable[OutageChange]]
) -> Outage:
    """Run one service verb on an outage; audit it when it changed something."""
    before = snapshot(await write.session.get(Outage, outage_id)) if outage_id else None
    change = await verb()
    after = snapshot(change.outage)
    if after != before:
        await record_audit(write.session, caller=write.caller, action=action, entity="outage",
                           entity_id=change.outage.id, account_id=None, before=before,
                           after=after)
    write.events += change.events
    return change.outage


async def confirm(
    write: Write, *, outage_id: int | None, device: DeviceRef | None, cause: str | None,
    expected_version: int | None, at: datetime | None = None,
) -> Outage:
    """By outage id, or by device: its live outage, or a new confirmed one."""
    found = await resolve_device(write.session, device) if device is not None else None
    if found is not None:
        live = await repository.active_outage(write.session, found)
        outage_id = live.id if live is not None else None
    return await operate(write, "outage.confirm", outage_id, lambda: service.confirm_outage(
        write.session, outage_id=None if found else outage_id, device=found, cause=cause,
        expected_version=expected_version, at=at))


async def merge(
    write: Write, *, child_id: int, parent_id: int, child_version: int | None,
    parent_version: int | None, at: datetime | None = None,
) -> Outage:
    """Returns the parent, which now speaks for the child's customers."""
    before: dict[str, Any] = {}
    for role, outage_id, version in (("child", child_id, child_version),
                                     ("parent", parent_id, parent_version)):
        outage = await write.session.get(Outage, outage_id)
        if outage is not None and version is not None and outage.version != version:
            raise Conflict("outage changed since you read it", outage_id=outage_id,
                           version=outage.version, expected_version=version)
        before[role] = snapshot(outage)
    change = await service.merge_outages(write.session, child_id=child_id, parent_id=parent_id,
                                         at=at)
    after = {"child": snapshot(await write.session.get(Outage, child_id)),
             "parent": snapshot(change.outage)}
    await record_audit(write.session, caller=write.caller, action="outage.merge",
                       entity="outage", entity_id=child_id, account_id=None, before=before,
                       after=after)
    write.events += change.events
    return change.outage


async def report(
    write: Write, *, premise_id: int | None, meter_number: str | None, source: ReportSource,
    contact_id: int | None = None, channel: Channel | None = None, hazard: str | None = None,
    at: datetime | None = None,
) -> ReportOutcome:
    """File a report for a premise, or for the premise behind a meter (a last gasp)."""
    service_point_id = None
    if meter_number is not None:
        point = await write.session.scalar(
            select(ServicePoint).where(ServicePoint.meter_number == meter_number))
        if point is None:
            raise NotFound(f"no meter {meter_number!r}")
        premise_id, service_point_id = point.premise_id, point.id
    if premise_id is None:
        raise Invalid("give premise_id or meter_number")
    if contact_id is not None and await write.session.get(Contact, contact_id) is None:
        raise NotFound("contact not found", contact_id=contact_id)
    outcome = await service.report_outage(
        write.session, premise_id=premise_id, source=source, service_point_id=service_point_id,
        contact_id=contact_id, channel=channel.value if channel else None, hazard=hazard, at=at)
    if outcome.created:
        filed = outcome.report
        account_id = await write.session.scalar(
            select(Premise.account_id).where(Premise.id == premise_id))
        await record_audit(write.session, caller=write.caller, action="outage.report",
                           entity="outage_report", entity_id=filed.id, account_id=account_id,
                           after={"premise_id": premise_id, "source": filed.source,
                                  "service_point_id": filed.service_point_id,
                                  "outage_id": filed.outage_id, "hazard": filed.hazard})
    write.events += outcome.events
    return outcome


# -- OMS events ------------------------------------------------------------------------------


def ledger_key(event_id: str) -> str:
    """The audit trail's entity_id for an OMS event (at most 40 characters)."""
    if len(event_id) <= 40:
        return event_id
    return "sha256:" + hashlib.sha256(event_id.encode()).hexdigest()[:33]


async def receive_oms_event(runtime: Runtime, event: OmsEvent) -> OmsEventResult:
    """Apply the event unless its event_id was applied before; a refusal is a result, not a 500.

    The receipt row in the audit trail, written in the event's own transaction, is the record
    that it was applied; the lock, held past the commit, keeps a concurrent retry (another
    process, with Redis) from applying it too."""
    key = ledger_key(event.event_id)
    try:
        async with runtime.lock.hold(f"oms:event:{key}"):
            return await _apply_once(runtime, event, key)
    except TimeoutError:
        raise Unavailable("this event is being applied by another delivery; retry") from None


async def _apply_once(runtime: Runtime, event: OmsEvent, key: str) -> OmsEventResult:
    try:
        async with writing(runtime, OMS_CALLER) as write:
            if await _applied_before(write.session, key):
                return OmsEventResult(event_id=event.event_id, status="duplicate")
            outage_id = await _apply(write, event)
            await record_audit(write.session, caller=OMS_CALLER, action=f"oms.{event.type}",
                               entity="oms_event", entity_id=key, account_id=None,
                               after={"outage_id": outage_id,
                                      **event.model_dump(mode="json", exclude_none=True)},
                               reason=f"OMS event {event.event_id}")
    except DomainError as exc:
        return OmsEventResult(event_id=event.event_id, status="rejected", error=exc.message,
                              error_status=exc.status_code)
    return OmsEventResult(event_id=event.event_id, status="applied", outage_id=outage_id)


async def _applied_before(session: AsyncSession, key: str) -> bool:
    since = utcnow() - OMS_REPLAY_HORIZON  # keeps the lookup on the audit trail's `at` index
    found = await session.scalar(select(AuditEntry.id).where(
        AuditEntry.at >= since, AuditEntry.entity == "oms_event", AuditEntry.entity_id == key,
    ).limit(1))
    return found is not None


async def _target(session: AsyncSession, outage_id: int | None, device: DeviceRef | None) -> int:
    """The outage an event names: by id, or the live outage on its device."""
    if outage_id is not None:
        return outage_id
    if device is None:
        raise Invalid("give outage_id or device")
    found = await resolve_device(session, device)
    live = await repository.active_outage(session, found)
    if live is None:
        raise NotFound(f"no live outage on {found.kind.value} {found.id}")
    return live.id


async def _apply(write: Write, event: OmsEvent) -> int | None:
    """One OMS event through the same audited verbs the REST endpoints use."""
    at, session = event.occurred_at, write.session
    match event:
        case LastGaspEvent():
            outcome = await report(write, premise_id=None, meter_number=event.meter_number,
                                   source=ReportSource.LAST_GASP, at=at)
            return outcome.outage.id if outcome.outage else None
        case ConfirmEvent():
            return (await confirm(write, outage_id=event.outage_id, device=event.device,
                                  cause=event.cause, expected_version=event.expected_version,
                                  at=at)).id
        case MergeEvent():
            child = await _target(session, event.outage_id, event.device)
            parent = await _target(session, event.into_outage_id, event.into_device)
            return (await merge(write, child_id=child, parent_id=parent,
                                child_version=event.expected_version, parent_version=None,
                                at=at)).id
        case EtrEvent() | CrewEvent() | CauseEvent() | RestoreEvent():
            outage_id = await _target(session, event.outage_id, event.device)
            verb = _outage_verb(session, event, outage_id)
            return (await operate(write, f"outage.{event.type}", outage_id, verb)).id
    raise Invalid(f"unknown OMS event type {event.type!r}")


def _outage_verb(
    session: AsyncSession, event: EtrEvent | CrewEvent | CauseEvent | RestoreEvent, outage_id: int
) -> Callable[[], Awaitable[OutageChange]]:
    common: dict[str, Any] = {"outage_id": outage_id, "expected_version": event.expected_version,
                              "at": event.occurred_at}
    match event:
        case EtrEvent():
            return lambda: service.set_etr(session, etr=event.etr, **common)
        case CrewEvent():
            return lambda: service.set_crew(session, crew=event.crew, **common)
        case CauseEvent():
            return lambda: service.set_cause(session, cause=event.cause, **common)
    return lambda: service.restore_outage(session, **common)
