"""Outage queries: the SQL the service needs, written once for SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, false, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from core.network.models import Feeder, Transformer
from core.outages.enums import LEVEL, Device, DeviceKind, OutageStatus
from core.outages.inference import Topology
from core.outages.models import ACTIVE_OUTAGE, OPEN_REPORT, Outage, OutageReport
from core.premises.models import ServicePoint

PathRow = tuple[int, int | None, int | None, int | None]  # service point, transformer, feeder, sub


def _is_open() -> Any:
    return and_(OutageReport.cancelled_at.is_(None), OutageReport.closed_at.is_(None))


def _is_live() -> Any:
    """Not restored: active outages and those merged into one (they still cover customers)."""
    return Outage.status != OutageStatus.RESTORED.value


def _insert(session: AsyncSession) -> Any:
    # ON CONFLICT … DO NOTHING against a partial index is spelled the same on both databases,
    # but SQLAlchemy keeps it in each dialect's own insert().
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


# -- topology ------------------------------------------------------------------------------


async def load_topology(session: AsyncSession) -> Topology:
    """The whole network in one pass: feeders outer-joined down to their service points."""
    rows = await session.execute(
        select(ServicePoint.id, Transformer.id, Feeder.id, Feeder.substation_id)
        .select_from(Feeder)
        .outerjoin(Transformer, Transformer.feeder_id == Feeder.id)
        .outerjoin(ServicePoint, ServicePoint.transformer_id == Transformer.id)
    )
    return Topology.from_rows(rows.tuples())


async def premise_paths(session: AsyncSession, premise_id: int) -> list[PathRow]:
    """Each service point of the premise with its place in the network, on-network ones first."""
    rows = await session.execute(
        select(ServicePoint.id, ServicePoint.transformer_id, Transformer.feeder_id,
               Feeder.substation_id)
        .outerjoin(Transformer, Transformer.id == ServicePoint.transformer_id)
        .outerjoin(Feeder, Feeder.id == Transformer.feeder_id)
        .where(ServicePoint.premise_id == premise_id)
        .order_by(ServicePoint.transformer_id.is_(None), ServicePoint.id)
    )
    return list(rows.tuples())


def service_points_under(device: Device) -> Select[tuple[int]]:
    query = select(ServicePoint.id)
    if device.kind is DeviceKind.SERVICE_POINT:
        return query.where(ServicePoint.id == device.id)
    if device.kind is DeviceKind.TRANSFORMER:
        return query.where(ServicePoint.transformer_id == device.id)
    query = query.join(Transformer, Transformer.id == ServicePoint.transformer_id)
    if device.kind is DeviceKind.FEEDER:
        return query.where(Transformer.feeder_id == device.id)
    return query.join(Feeder, Feeder.id == Transformer.feeder_id).where(
        Feeder.substation_id == device.id
    )


# -- reports -------------------------------------------------------------------------------


async def open_report(session: AsyncSession, *, premise_id: int) -> OutageReport | None:
    return await session.scalar(
        select(OutageReport).where(OutageReport.premise_id == premise_id, _is_open())
    )


async def insert_report(session: AsyncSession, values: dict[str, Any]) -> OutageReport | None:
    """Insert an open report; None if the premise already has one (the unique index decides)."""
    statement = (
        _insert(session)(OutageReport)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["premise_id"], index_where=text(OPEN_REPORT))
        .returning(OutageReport.id)
    )
    report_id = await session.scalar(statement)
    return None if report_id is None else await session.get(OutageReport, report_id)


async def open_report_points(session: AsyncSession) -> Sequence[tuple[int, datetime]]:
    """Every open report on the network as (service point, when): what the engine counts."""
    rows = await session.execute(
        select(OutageReport.service_point_id, OutageReport.created_at).where(
            _is_open(), OutageReport.service_point_id.is_not(None)
        )
    )
    return [(sp, at) for sp, at in rows.tuples() if sp is not None]


async def attach_open_reports(session: AsyncSession, *, outage: Outage) -> None:
    """Give the outage the open reports below its device, except those of a nested outage."""
    level = LEVEL[DeviceKind(outage.device_kind)]
    at_or_above = [kind.value for kind, height in LEVEL.items() if height >= level]
    # A report held by an outage at this height or above moves down to the more specific one.
    held_above = select(Outage.id).where(
        Outage.device_kind.in_(at_or_above), Outage.id != outage.id
    )
    await session.execute(
        update(OutageReport)
        .where(
            _is_open(),
            OutageReport.service_point_id.in_(service_points_under(outage.device)),
            or_(OutageReport.outage_id.is_(None), OutageReport.outage_id.in_(held_above)),
        )
        .values(outage_id=outage.id)
        .execution_options(synchronize_session="fetch")
    )


async def move_reports(session: AsyncSession, *, from_id: int, to_id: int) -> None:
    await session.execute(
        update(OutageReport)
        .where(OutageReport.outage_id == from_id, _is_open())
        .values(outage_id=to_id)
        .execution_options(synchronize_session="fetch")
    )


async def close_reports(
    session: AsyncSession, *, outage_ids: Iterable[int], device: Device, at: datetime
) -> None:
    """Close what the outage held, and unheld reports below it that raced its creation."""
    ids = list(outage_ids)
    await session.execute(
        update(OutageReport)
        .where(
            _is_open(),
            or_(
                OutageReport.outage_id.in_(ids) if ids else false(),
                and_(
                    OutageReport.outage_id.is_(None),
                    OutageReport.service_point_id.in_(service_points_under(device)),
                ),
            ),
        )
        .values(closed_at=at)
        .execution_options(synchronize_session="fetch")
    )


# -- outages -------------------------------------------------------------------------------


async def active_outage(session: AsyncSession, device: Device) -> Outage | None:
    return await session.scalar(
        select(Outage).where(
            Outage.device_kind == device.kind.value,
            Outage.device_id == device.id,
            text(ACTIVE_OUTAGE),
        )
    )


async def insert_outage(session: AsyncSession, values: dict[str, Any]) -> Outage | None:
    """Insert an outage; None if the device already has an active one (another worker won)."""
    statement = (
        _insert(session)(Outage)
        .values(**values)
        .on_conflict_do_nothing(
            index_elements=["device_kind", "device_id"], index_where=text(ACTIVE_OUTAGE)
        )
        .returning(Outage.id)
    )
    outage_id = await session.scalar(statement)
    return None if outage_id is None else await session.get(Outage, outage_id)


async def live_outages(session: AsyncSession) -> Sequence[Outage]:
    """Every outage not restored, merged ones included: what the engine rebuilds from."""
    return (await session.scalars(select(Outage).where(_is_live()).order_by(Outage.id))).all()


async def live_outages_on(session: AsyncSession, devices: Iterable[Device]) -> Sequence[Outage]:
    by_kind: dict[DeviceKind, set[int]] = {}
    for device in devices:
        by_kind.setdefault(device.kind, set()).add(device.id)
    if not by_kind:
        return []
    on_devices = or_(
        *(
            and_(Outage.device_kind == kind.value, Outage.device_id.in_(sorted(ids)))
            for kind, ids in by_kind.items()
        )
    )
    return (await session.scalars(select(Outage).where(_is_live(), on_devices))).all()


async def merged_into(session: AsyncSession, outage_id: int) -> Sequence[Outage]:
    """Outages merged (directly or through others) into this one and not restored."""
    found: list[Outage] = []
    frontier = [outage_id]
    while frontier:
        children = (
            await session.scalars(
                select(Outage).where(Outage.merged_into_id.in_(frontier), _is_live())
            )
        ).all()
        found.extend(children)
        frontier = [c.id for c in children]
    return found


async def root_of(session: AsyncSession, outage: Outage) -> Outage:
    """Follow merges up to the outage that now speaks for this one."""
    seen = {outage.id}
    while outage.merged_into_id is not None and outage.merged_into_id not in seen:
        parent = await session.get(Outage, outage.merged_into_id)
        if parent is None:
            break
        seen.add(parent.id)
        outage = parent
    return outage
