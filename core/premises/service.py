"""Premise verbs: a place served, its services, and its meters on the network."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.accounts.repository import get_account
from core.enums import ServiceKind
from core.errors import Conflict, Invalid
from core.premises import repository
from core.premises.models import Premise, Service, ServicePoint


async def create_premise(
    session: AsyncSession,
    *,
    address: str,
    city: str,
    state: str,
    zip_code: str,
    unit: str | None = None,
    kind: str = "residential",
    nickname: str | None = None,
    account_id: int | None = None,
    services: Sequence[str] = (),
    started_on: date | None = None,
) -> Premise:
    """A premise, optionally billed to an account now with its services active."""
    kinds = [_service_kind(k) for k in services]
    if account_id is not None:
        await get_account(session, account_id=account_id)
    premise = Premise(address=address, unit=unit, city=city, state=state.upper(), zip=zip_code,
                      kind=kind, nickname=nickname, account_id=account_id)
    session.add(premise)
    await session.flush()
    for service_kind in kinds:
        session.add(Service(premise_id=premise.id, account_id=account_id, kind=service_kind.value,
                            rate_code="COM" if kind == "commercial" else "RES",
                            status="active" if account_id else "stopped",
                            started_on=started_on if account_id else None))
    await session.flush()
    return premise


async def add_service_point(
    session: AsyncSession,
    *,
    premise_id: int,
    service_kind: str,
    meter_number: str,
    transformer_id: int | None = None,
    smart_meter: bool = False,
) -> ServicePoint:
    premise = await repository.get_premise(session, premise_id=premise_id)
    kind = _service_kind(service_kind)
    if transformer_id is not None and kind is not ServiceKind.ELECTRIC:
        raise Invalid("only electric service points sit under a transformer")
    point = ServicePoint(premise_id=premise.id, service_kind=kind.value,
                         meter_number=meter_number, transformer_id=transformer_id,
                         smart_meter=smart_meter)
    try:
        async with session.begin_nested():
            session.add(point)
            await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"meter {meter_number} is already installed elsewhere") from exc
    return point


async def set_nickname(session: AsyncSession, *, premise_id: int, nickname: str | None) -> Premise:
    premise = await repository.get_premise(session, premise_id=premise_id)
    premise.nickname = (nickname or "").strip()[:40] or None
    await session.flush()
    return premise


def _service_kind(value: str) -> ServiceKind:
    try:
        return ServiceKind(value)
    except ValueError as exc:
        raise Invalid(f"unknown service kind {value!r}") from exc
