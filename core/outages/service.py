"""Outage verbs: take reports, apply the roll-up's decisions, let operations run the outage.

Every verb takes keyword-only arguments, flushes and never commits (the caller's unit of work
does), and returns the domain events for the caller to publish after commit.

The roll-up engine is a cache of database state, one per database in this process: built on
first use from the network, the open reports and the live outages, and dropped whenever a
transaction that fed it ends without committing. Reports and outages in the database are the
truth. In production with many workers each process rebuilds its engine from the open reports
on start; the partial unique indexes make sure two workers that predict the same device share
one outage instead of opening two.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.orm.exc import StaleDataError

from core.clock import ensure_utc, utcnow
from core.errors import Conflict, Invalid, NotFound
from core.events import DomainEvent
from core.outages import repository
from core.outages.enums import UNCONFIRMED, Device, DeviceKind, OutageStatus, ReportSource
from core.outages.events import (
    CauseChanged,
    CrewAssigned,
    EtrChanged,
    OutageConfirmed,
    OutagePredicted,
    OutageProbable,
    OutageReportCancelled,
    OutageReported,
    OutageRestored,
    OutagesMerged,
)
from core.outages.inference import (
    Decision,
    InferenceEngine,
    Merge,
    Predict,
    Promote,
    TopologyChanged,
    Withdraw,
)
from core.outages.models import Outage, OutageReport
from core.outages.policy import RollupPolicy
from core.premises.models import Premise


@dataclass(slots=True)
class ReportOutcome:
    """The report (new or the premise's existing open one) and the outage that holds it."""

    report: OutageReport
    outage: Outage | None
    created: bool
    events: list[DomainEvent] = field(default_factory=list)

    @property
    def etr(self) -> datetime | None:
        return self.outage.etr if self.outage is not None else None


@dataclass(slots=True)
class CancelOutcome:
    report: OutageReport
    events: list[DomainEvent] = field(default_factory=list)


@dataclass(slots=True)
class OutageChange:
    outage: Outage
    events: list[DomainEvent] = field(default_factory=list)


# -- the process-wide engine ---------------------------------------------------------------

_engines: dict[str, InferenceEngine] = {}
_policy = RollupPolicy()
_build_lock = asyncio.Lock()
_FED = "outages.fed_engines"


def configure(policy: RollupPolicy) -> None:
    """Set the roll-up thresholds (from settings at start-up); engines rebuild with them."""
    global _policy
    _policy = policy
    _engines.clear()


def reset_engines() -> None:
    """Drop every cached engine; the next verb rebuilds from the database."""
    _engines.clear()


def _key(session: AsyncSession) -> str:
    return session.get_bind().url.render_as_string(hide_password=True)


async def inference_engine(session: AsyncSession) -> InferenceEngine:
    """This database's engine, built from it on first use."""
    key = _key(session)
    engine = _engines.get(key)
    if engine is not None:
        return engine
    async with _build_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = await _build(session)
            _engines[key] = engine
    return engine


async def _build(session: AsyncSession) -> InferenceEngine:
    engine = InferenceEngine(await repository.load_topology(session), _policy)
    outages = await repository.live_outages(session)
    by_id = {o.id: o for o in outages}
    merged: dict[int, list[Device]] = {}
    for outage in outages:
        root = outage
        while root.merged_into_id is not None and root.merged_into_id in by_id:
            root = by_id[root.merged_into_id]
        if root is not outage:
            merged.setdefault(root.id, []).append(outage.device)
    for outage in outages:
        if outage.merged_into_id is None:
            engine.load_outage(
                outage.device,
                OutageStatus(outage.status),
                outage.started_at,
                merged.get(outage.id, ()),
                outage.customers_affected,
            )
    for service_point_id, at in await repository.open_report_points(session):
        engine.load_report(service_point_id, at)
    return engine


def _feeding(session: AsyncSession, engine: InferenceEngine) -> InferenceEngine:
    """Mark the engine as changed by this transaction: if it never commits, the engine goes."""
    sync = session.sync_session
    keys: set[str] | None = sync.info.get(_FED)
    if keys is None:
        keys = sync.info[_FED] = set()
        event.listen(sync, "after_commit", _committed)
        event.listen(sync, "after_transaction_end", _ended)
    keys.add(_key(session))
    return engine


def _committed(sync: Session) -> None:
    sync.info.get(_FED, set()).clear()


def _ended(sync: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is not None:
        return
    keys: set[str] = sync.info.get(_FED, set())
    for key in keys:
        _engines.pop(key, None)  # rolled back: the engine counted what the database forgot
    keys.clear()


# -- reports -------------------------------------------------------------------------------


async def report_outage(
    session: AsyncSession,
    *,
    premise_id: int,
    source: ReportSource | str,
    service_point_id: int | None = None,
    contact_id: int | None = None,
    channel: str | None = None,
    hazard: str | None = None,
    at: datetime | None = None,
) -> ReportOutcome:
    """Record that a premise is out; inside a known outage, the report joins it and its ETR."""
    at = ensure_utc(at) if at is not None else utcnow()
    try:
        source = ReportSource(source)
    except ValueError:
        raise Invalid(f"unknown report source {source!r}") from None
    existing = await repository.open_report(session, premise_id=premise_id)
    if existing is not None:
        return ReportOutcome(existing, await _outage_of(session, existing), created=False)
    if await session.get(Premise, premise_id) is None:
        raise NotFound("premise not found", premise_id=premise_id)

    paths = await repository.premise_paths(session, premise_id)
    if service_point_id is not None:
        paths = [p for p in paths if p[0] == service_point_id]
        if not paths:
            raise Invalid("service point is not at this premise", service_point_id=service_point_id)
    path = paths[0] if paths else None
    on_network = path is not None and path[1] is not None
    # Built before the report is inserted, so a first build does not count it already.
    engine = await _engine_knowing(session, path) if on_network else None
    report = await repository.insert_report(
        session,
        {
            "premise_id": premise_id,
            "service_point_id": path[0] if path else None,
            "source": source.value,
            "contact_id": contact_id,
            "channel": channel,
            "hazard": hazard,
            "created_at": at,
        },
    )
    if report is None:  # another request for this premise won the race
        existing = await repository.open_report(session, premise_id=premise_id)
        if existing is None:
            raise Conflict("outage report changed concurrently, try again")
        return ReportOutcome(existing, await _outage_of(session, existing), created=False)

    events: list[DomainEvent] = []
    if engine is not None and path is not None:
        events += await _apply(session, _feeding(session, engine).add_report(path[0], at))
    outage = await outage_for_premise(session, premise_id)
    if outage is not None and report.outage_id is None:
        report.outage_id = outage.id
    await _flush(session)
    reported = OutageReported(
        report_id=report.id,
        premise_id=premise_id,
        outage_id=report.outage_id,
        source=source.value,
        contact_id=contact_id,
        at=at,
    )
    return ReportOutcome(report, outage, created=True, events=[reported, *events])


async def cancel_report(
    session: AsyncSession,
    *,
    premise_id: int | None = None,
    report_id: int | None = None,
    at: datetime | None = None,
) -> CancelOutcome:
    """The customer's power is back ("OUT CANCEL"); a prediction nobody stands behind is dropped."""
    at = ensure_utc(at) if at is not None else utcnow()
    if report_id is not None:
        report = await session.get(OutageReport, report_id)
    elif premise_id is not None:
        report = await repository.open_report(session, premise_id=premise_id)
    else:
        raise Invalid("give premise_id or report_id")
    if report is None:
        raise NotFound("no open outage report", premise_id=premise_id, report_id=report_id)
    if not report.is_open:
        return CancelOutcome(report)
    engine = await inference_engine(session)
    report.cancelled_at = at
    await _flush(session)
    events: list[DomainEvent] = [
        OutageReportCancelled(
            report_id=report.id, premise_id=report.premise_id, outage_id=report.outage_id, at=at
        )
    ]
    if report.service_point_id is not None:
        decisions = _feeding(session, engine).cancel_report(report.service_point_id, at)
        events += await _apply(session, decisions)
    return CancelOutcome(report, events)


async def outage_for_premise(session: AsyncSession, premise_id: int) -> Outage | None:
    """The live outage covering the premise: the most specific one on its network path."""
    devices: list[Device] = []
    for service_point_id, transformer_id, feeder_id, substation_id in (
        await repository.premise_paths(session, premise_id)
    ):
        devices.append(Device(DeviceKind.SERVICE_POINT, service_point_id))
        for kind, device_id in (
            (DeviceKind.TRANSFORMER, transformer_id),
            (DeviceKind.FEEDER, feeder_id),
            (DeviceKind.SUBSTATION, substation_id),
        ):
            if device_id is not None:
                devices.append(Device(kind, device_id))
    found = await repository.live_outages_on(session, devices)
    for outage in sorted(found, key=lambda o: (o.device.level, o.id)):
        root = await repository.root_of(session, outage)
        if root.is_active:
            return root
    return None


# -- operations ----------------------------------------------------------------------------


async def confirm_outage(
    session: AsyncSession,
    *,
    outage_id: int | None = None,
    device: Device | None = None,
    cause: str | None = None,
    expected_version: int | None = None,
    at: datetime | None = None,
) -> OutageChange:
    """Operations confirm a predicted outage, or one they found on a device themselves."""
    at = ensure_utc(at) if at is not None else utcnow()
    engine = await inference_engine(session)  # built before this verb changes any row
    if outage_id is not None:
        outage = await _active(session, outage_id, expected_version)
    elif device is not None:
        outage = await repository.active_outage(session, device)
        if outage is None:
            outage = await repository.insert_outage(
                session,
                {
                    "device_kind": device.kind.value,
                    "device_id": device.id,
                    "status": OutageStatus.CONFIRMED.value,
                    "started_at": at,
                    "confirmed_at": at,
                    "customers_affected": engine.topology.customers(device),
                    "updated_at": at,
                },
            )
            if outage is None:
                raise Conflict("outage on this device changed concurrently, try again")
            return await _confirmed(session, outage, cause=cause, at=at)
        _check_version(outage, expected_version)
    else:
        raise Invalid("give outage_id or device")
    if outage.status not in UNCONFIRMED:
        if cause is not None and cause != outage.cause:
            return await set_cause(session, outage_id=outage.id, cause=cause, at=at)
        return OutageChange(outage)
    outage.status = OutageStatus.CONFIRMED.value
    outage.confirmed_at = at
    return await _confirmed(session, outage, cause=cause, at=at)


async def _confirmed(
    session: AsyncSession, outage: Outage, *, cause: str | None, at: datetime
) -> OutageChange:
    if cause is not None:
        outage.cause = cause
    await _flush(session)
    engine = _feeding(session, await inference_engine(session))
    events = await _apply(session, engine.confirm(outage.device, at))
    await repository.attach_open_reports(session, outage=outage)
    outage.customers_affected = engine.customers_affected(outage.device) or (
        outage.customers_affected
    )
    await _flush(session)
    confirmed = OutageConfirmed(
        **_about(outage, at), customers_affected=outage.customers_affected, cause=outage.cause
    )
    return OutageChange(outage, [confirmed, *events])


async def set_etr(
    session: AsyncSession,
    *,
    outage_id: int,
    etr: datetime | None,
    expected_version: int | None = None,
    at: datetime | None = None,
) -> OutageChange:
    """A new estimated restoration time; `etr_version` orders the notices about it."""
    at = ensure_utc(at) if at is not None else utcnow()
    outage = await _active(session, outage_id, expected_version)
    etr = ensure_utc(etr) if etr is not None else None
    if etr is not None and etr < outage.started_at:
        raise Invalid("the ETR is before the outage started")
    if etr == outage.etr:
        return OutageChange(outage)
    previous = outage.etr
    outage.etr = etr
    outage.etr_version += 1
    await _flush(session)
    changed = EtrChanged(
        **_about(outage, at), etr=etr, previous_etr=previous, etr_version=outage.etr_version
    )
    return OutageChange(outage, [changed])


async def set_crew(
    session: AsyncSession,
    *,
    outage_id: int,
    crew: str | None,
    expected_version: int | None = None,
    at: datetime | None = None,
) -> OutageChange:
    """A crew is on it (which confirms the outage); None takes the crew off again."""
    at = ensure_utc(at) if at is not None else utcnow()
    await inference_engine(session)  # built before this verb changes any row
    outage = await _active(session, outage_id, expected_version)
    if crew == outage.crew and (crew is None or outage.status == OutageStatus.CREW_ASSIGNED):
        return OutageChange(outage)
    was_unconfirmed = outage.status in UNCONFIRMED
    outage.crew = crew
    outage.status = (OutageStatus.CREW_ASSIGNED if crew else OutageStatus.CONFIRMED).value
    outage.confirmed_at = outage.confirmed_at or at
    events: list[DomainEvent] = []
    if was_unconfirmed:
        events += (await _confirmed(session, outage, cause=None, at=at)).events
    await _flush(session)
    return OutageChange(outage, [*events, CrewAssigned(**_about(outage, at), crew=crew)])


async def set_cause(
    session: AsyncSession,
    *,
    outage_id: int,
    cause: str | None,
    expected_version: int | None = None,
    at: datetime | None = None,
) -> OutageChange:
    at = ensure_utc(at) if at is not None else utcnow()
    outage = await _active(session, outage_id, expected_version)
    if cause == outage.cause:
        return OutageChange(outage)
    outage.cause = cause
    await _flush(session)
    return OutageChange(outage, [CauseChanged(**_about(outage, at), cause=cause)])


async def restore_outage(
    session: AsyncSession,
    *,
    outage_id: int,
    expected_version: int | None = None,
    at: datetime | None = None,
) -> OutageChange:
    """Power is back: close the outage, those merged into it, and every report they held."""
    at = ensure_utc(at) if at is not None else utcnow()
    outage = await _active(session, outage_id, expected_version)
    engine = _feeding(session, await inference_engine(session))
    event_ = await _restore(session, outage, at=at, withdrawn=False)
    engine.restore(outage.device)
    return OutageChange(outage, [event_])


async def merge_outages(
    session: AsyncSession,
    *,
    child_id: int,
    parent_id: int,
    at: datetime | None = None,
) -> OutageChange:
    """Operations found one cause behind two outages: the child's customers follow the parent."""
    at = ensure_utc(at) if at is not None else utcnow()
    if child_id == parent_id:
        raise Invalid("an outage cannot be merged into itself")
    child = await _active(session, child_id, None)
    parent = await _active(session, parent_id, None)
    engine = _feeding(session, await inference_engine(session))
    decisions = engine.merge(child.device, parent.device, at)
    customers = next((d.customers for d in decisions if isinstance(d, Merge)), None)
    if customers is None:  # the engine did not know one of them: count from the network
        nested = parent.device in engine.topology.ancestors(child.device)
        customers = parent.customers_affected + (0 if nested else child.customers_affected)
    merged = await _merge(session, child, parent, customers=customers, at=at)
    return OutageChange(parent, [merged])


async def tick(session: AsyncSession, *, now: datetime | None = None) -> list[DomainEvent]:
    """Periodic: promote predictions that stood long enough; expire old reports from the window."""
    now = ensure_utc(now) if now is not None else utcnow()
    engine = _feeding(session, await inference_engine(session))
    return await _apply(session, engine.tick(now))


# -- applying the engine's decisions --------------------------------------------------------


async def _apply(session: AsyncSession, decisions: list[Decision]) -> list[DomainEvent]:
    events: list[DomainEvent] = []
    for decision in decisions:
        match decision:
            case Predict(device=device, at=at, customers=customers):
                events += await _predict(session, device, at=at, customers=customers)
            case Promote(device=device, at=at):
                outage = await repository.active_outage(session, device)
                if outage is not None and outage.status == OutageStatus.PREDICTED:
                    outage.status = OutageStatus.PROBABLE.value
                    await _flush(session)
                    events.append(OutageProbable(**_about(outage, at)))
            case Merge(child=child_device, parent=parent_device, customers=customers, at=at):
                child = await repository.active_outage(session, child_device)
                parent = await repository.active_outage(session, parent_device)
                if child is not None and parent is not None and child.id != parent.id:
                    events.append(await _merge(session, child, parent, customers=customers, at=at))
            case Withdraw(device=device, at=at):
                outage = await repository.active_outage(session, device)
                if outage is not None and outage.status in UNCONFIRMED:
                    events.append(await _restore(session, outage, at=at, withdrawn=True))
    return events


async def _predict(
    session: AsyncSession, device: Device, *, at: datetime, customers: int
) -> list[DomainEvent]:
    outage = await repository.insert_outage(
        session,
        {
            "device_kind": device.kind.value,
            "device_id": device.id,
            "status": OutageStatus.PREDICTED.value,
            "started_at": at,
            "customers_affected": customers,
            "updated_at": at,
        },
    )
    if outage is None:  # another worker predicted (or operations confirmed) it first
        return []
    await repository.attach_open_reports(session, outage=outage)
    return [OutagePredicted(**_about(outage, at), customers_affected=customers)]


async def _merge(
    session: AsyncSession, child: Outage, parent: Outage, *, customers: int, at: datetime
) -> OutagesMerged:
    for grandchild in await repository.merged_into(session, child.id):
        if grandchild.merged_into_id == child.id:
            grandchild.merged_into_id = parent.id
    child.merged_into_id = parent.id
    parent.customers_affected = customers
    await _flush(session)
    await repository.move_reports(session, from_id=child.id, to_id=parent.id)
    return OutagesMerged(
        child_id=child.id, parent_id=parent.id, customers_affected=customers, at=at
    )


async def _restore(
    session: AsyncSession, outage: Outage, *, at: datetime, withdrawn: bool
) -> OutageRestored:
    merged = await repository.merged_into(session, outage.id)
    for closed in (outage, *merged):
        closed.status = OutageStatus.RESTORED.value
        closed.restored_at = at
    await _flush(session)
    await repository.close_reports(
        session, outage_ids=[outage.id, *(m.id for m in merged)], device=outage.device, at=at
    )
    return OutageRestored(**_about(outage, at), withdrawn=withdrawn)


# -- helpers -------------------------------------------------------------------------------


async def _engine_knowing(session: AsyncSession, path: tuple[Any, ...]) -> InferenceEngine:
    """The engine, taught a service point added to the network since it was built."""
    engine = await inference_engine(session)
    service_point_id, transformer_id, feeder_id, substation_id = path
    if engine.topology.path(service_point_id) is None and substation_id is not None:
        try:
            engine.topology.add(
                substation_id=substation_id,
                feeder_id=feeder_id,
                transformer_id=transformer_id,
                service_point_id=service_point_id,
            )
        except TopologyChanged:
            _engines.pop(_key(session), None)  # the network was rewired: rebuild from it
            engine = await inference_engine(session)
    return engine


async def _outage_of(session: AsyncSession, report: OutageReport) -> Outage | None:
    if report.outage_id is not None:
        held = await session.get(Outage, report.outage_id)
        if held is not None:
            root = await repository.root_of(session, held)
            if root.is_active:
                return root
    return await outage_for_premise(session, report.premise_id)


async def _active(session: AsyncSession, outage_id: int, expected_version: int | None) -> Outage:
    outage = await session.get(Outage, outage_id)
    if outage is None:
        raise NotFound("outage not found", outage_id=outage_id)
    if outage.merged_into_id is not None:
        raise Conflict("outage was merged", outage_id=outage_id, into=outage.merged_into_id)
    if outage.status == OutageStatus.RESTORED:
        raise Conflict("outage is already restored", outage_id=outage_id)
    _check_version(outage, expected_version)
    return outage


def _check_version(outage: Outage, expected_version: int | None) -> None:
    if expected_version is not None and outage.version != expected_version:
        raise Conflict(
            "outage changed since you read it",
            outage_id=outage.id,
            version=outage.version,
            expected_version=expected_version,
        )


async def _flush(session: AsyncSession) -> None:
    try:
        await session.flush()
    except StaleDataError as exc:
        raise Conflict("outage changed concurrently, reload and try again") from exc


def _about(outage: Outage, at: datetime) -> dict[str, Any]:
    return {
        "outage_id": outage.id,
        "device_kind": outage.device_kind,
        "device_id": outage.device_id,
        "status": outage.status,
        "version": outage.version,
        "at": at,
    }
