"""Service order queries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import NotFound
from core.service_orders.models import ServiceOrder


async def get_order(session: AsyncSession, *, order_id: int, for_update: bool = False) -> ServiceOrder:
    query = select(ServiceOrder).where(ServiceOrder.id == order_id)
    if for_update:
        query = query.with_for_update()
    order = await session.scalar(query)
    if order is None:
        raise NotFound(f"service order {order_id} not found", order_id=order_id)
    return order


async def open_for_account(session: AsyncSession, *, account_id: int) -> list[ServiceOrder]:
    rows = await session.scalars(
        select(ServiceOrder).where(ServiceOrder.account_id == account_id,
                                   ServiceOrder.status == "open").order_by(ServiceOrder.id)
    )
    return list(rows)


async def count_since(
    session: AsyncSession, *, account_id: int, kind: str, since: datetime,
    exclude_order_id: int | None = None,
) -> int:
    query = select(func.count()).select_from(ServiceOrder).where(
        ServiceOrder.account_id == account_id,
        ServiceOrder.kind == kind,
        ServiceOrder.status != "cancelled",
        ServiceOrder.created_at >= since,
    )
    if exclude_order_id is not None:
        query = query.where(ServiceOrder.id != exclude_order_id)
    return int(await session.scalar(query) or 0)


async def leak_order_for_bill(session: AsyncSession, *, account_id: int, bill_id: int) -> bool:
    """One leak adjustment per bill: the bill id lives in the order's details."""
    rows = await session.scalars(
        select(ServiceOrder).where(ServiceOrder.account_id == account_id,
                                   ServiceOrder.kind == "leak_adjustment",
                                   ServiceOrder.status != "cancelled")
    )
    return any((o.details or {}).get("bill_id") == bill_id for o in rows)
