"""Premise, service point and service queries."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import NotFound
from core.premises.models import Premise, Service, ServicePoint


async def get_premise(session: AsyncSession, *, premise_id: int) -> Premise:
    premise = await session.get(Premise, premise_id)
    if premise is None:
        raise NotFound(f"premise {premise_id} not found", premise_id=premise_id)
    return premise


async def of_account(session: AsyncSession, *, account_id: int) -> list[Premise]:
    rows = await session.scalars(
        select(Premise).where(Premise.account_id == account_id).order_by(Premise.id)
    )
    return list(rows)


async def by_address(session: AsyncSession, *, zip_code: str, address: str | None = None) -> list[Premise]:
    query = select(Premise).where(Premise.zip == zip_code)
    if address:
        query = query.where(Premise.address.ilike(f"%{address.strip()}%"))
    rows = await session.scalars(query.order_by(Premise.id).limit(50))
    return list(rows)


async def services_of(session: AsyncSession, *, premise_id: int) -> list[Service]:
    rows = await session.scalars(
        select(Service).where(Service.premise_id == premise_id).order_by(Service.id)
    )
    return list(rows)


async def service_points_of(session: AsyncSession, *, premise_id: int) -> list[ServicePoint]:
    rows = await session.scalars(
        select(ServicePoint).where(ServicePoint.premise_id == premise_id).order_by(ServicePoint.id)
    )
    return list(rows)


async def past_account_ids(session: AsyncSession, *, premise_id: int) -> list[int]:
    """Accounts that have had service here: the history a new occupant's deposit is based on."""
    rows = await session.scalars(
        select(Service.account_id).where(
            Service.premise_id == premise_id, Service.account_id.is_not(None)
        ).distinct()
    )
    return [int(r) for r in rows]
