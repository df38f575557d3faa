"""Adjustment request queries."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.adjustments.models import AdjustmentRequest
from core.errors import NotFound


async def get_request(
    session: AsyncSession, *, request_id: int, for_update: bool = False
) -> AdjustmentRequest:
    query = select(AdjustmentRequest).where(AdjustmentRequest.id == request_id)
    if for_update:
        query = query.with_for_update()
    found = await session.scalar(query)
    if found is None:
        raise NotFound(f"adjustment request {request_id} not found", request_id=request_id)
    return found


async def pending(session: AsyncSession, *, account_id: int | None = None) -> list[AdjustmentRequest]:
    query = select(AdjustmentRequest).where(AdjustmentRequest.status == "pending")
    if account_id is not None:
        query = query.where(AdjustmentRequest.account_id == account_id)
    rows = await session.scalars(query.order_by(AdjustmentRequest.id))
    return list(rows)
