"""What the storm dashboard draws, in one JSON document: the report rate, outages and the
customers in them, notices by status, queue depths, and the worst feeders."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import utcnow
from core.network.models import Feeder, Substation, Transformer
from core.notifications import repository as notices
from core.outages.enums import DeviceKind, OutageStatus
from core.outages.models import Outage, OutageReport
from core.premises.models import ServicePoint
from core.storm import repository
from core.storm.models import StormState

MINUTES = 60
WORST = 10


async def dashboard(session: AsyncSession, *, now: datetime | None = None,
                    queues: dict[str, int] | None = None) -> dict[str, Any]:
    now = now or utcnow()
    state = await repository.read_state(session)
    series = await repository.reports_per_minute_series(session, now=now, minutes=MINUTES)
    return {
        "generated_at": now.isoformat(),
        "storm": _state(state),
        "reports_per_minute": {"since": (now - timedelta(minutes=MINUTES)).isoformat(),
                               "counts": series},
        "outages": await _outages(session, now),
        "notices": await notices.status_counts(session, since=now - timedelta(days=2)),
        "queues": queues or {},
        "worst_feeders": await worst_feeders(session, now=now),
    }


def _state(state: StormState | None) -> dict[str, Any]:
    if state is None:
        return {"active": False, "auto": True, "source": "auto", "message": "",
                "changed_by": None, "changed_at": None}
    return {"active": state.active, "auto": state.auto, "source": state.source,
            "message": state.message, "changed_by": state.changed_by,
            "changed_at": state.changed_at.isoformat() if state.changed_at else None,
            "reason": state.reason}


async def _outages(session: AsyncSession, now: datetime) -> dict[str, Any]:
    rows = await session.execute(
        select(Outage.status, func.count(), func.coalesce(func.sum(Outage.customers_affected), 0))
        .where(Outage.merged_into_id.is_(None), Outage.status != OutageStatus.RESTORED.value)
        .group_by(Outage.status))
    found: dict[str, Any] = {s.value: {"count": 0, "customers": 0} for s in OutageStatus
                             if s != OutageStatus.RESTORED}
    for status, count, customers in rows.tuples():
        found[status] = {"count": int(count), "customers": int(customers)}
    restored = await session.execute(
        select(func.count(), func.coalesce(func.sum(Outage.customers_affected), 0))
        .where(Outage.merged_into_id.is_(None), Outage.status == OutageStatus.RESTORED.value,
               Outage.restored_at >= now - timedelta(hours=24)))
    count, customers = restored.one()
    found["restored_24h"] = {"count": int(count), "customers": int(customers)}
    return found


async def worst_feeders(session: AsyncSession, *, now: datetime,
                        limit: int = WORST) -> list[dict[str, Any]]:
    """Feeders by customers out (live outages on the feeder or below it), then by reports."""
    live = and_(Outage.merged_into_id.is_(None), Outage.status != OutageStatus.RESTORED.value)
    on_feeder = select(Outage.device_id.label("feeder_id"), Outage.customers_affected) \
        .where(live, Outage.device_kind == DeviceKind.FEEDER.value)
    on_transformer = select(Transformer.feeder_id, Outage.customers_affected) \
        .join(Transformer, Transformer.id == Outage.device_id) \
        .where(live, Outage.device_kind == DeviceKind.TRANSFORMER.value)
    on_point = select(Transformer.feeder_id, Outage.customers_affected) \
        .join(ServicePoint, ServicePoint.id == Outage.device_id) \
        .join(Transformer, Transformer.id == ServicePoint.transformer_id) \
        .where(live, Outage.device_kind == DeviceKind.SERVICE_POINT.value)
    out = union_all(on_feeder, on_transformer, on_point).subquery("out")
    customers = select(out.c.feeder_id, func.sum(out.c.customers_affected).label("out"),
                       func.count().label("outages"), literal(0).label("reports")) \
        .group_by(out.c.feeder_id)
    reports = select(Transformer.feeder_id, literal(0), literal(0), func.count()) \
        .select_from(OutageReport) \
        .join(ServicePoint, ServicePoint.id == OutageReport.service_point_id) \
        .join(Transformer, Transformer.id == ServicePoint.transformer_id) \
        .where(OutageReport.created_at >= now - timedelta(hours=1)) \
        .group_by(Transformer.feeder_id)
    both = union_all(customers, reports).subquery("both")
    ranked = (
        select(both.c.feeder_id, func.sum(both.c.out).label("out"),
               func.sum(both.c.outages).label("outages"), func.sum(both.c.reports).label("r"),
               Feeder.code, Substation.code)
        .join(Feeder, Feeder.id == both.c.feeder_id)
        .join(Substation, Substation.id == Feeder.substation_id)
        .group_by(both.c.feeder_id, Feeder.code, Substation.code)
        .order_by(func.sum(both.c.out).desc(), func.sum(both.c.reports).desc())
        .limit(limit)
    )
    return [{"feeder_id": fid, "feeder": code, "substation": sub, "customers_out": int(o or 0),
             "outages": int(n or 0), "reports_last_hour": int(r or 0)}
            for fid, o, n, r, code, sub in (await session.execute(ranked)).tuples()]
