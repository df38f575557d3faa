"""Operator API: find and create premises."""

from __future__ import annotations

from fastapi import APIRouter, status
from sqlalchemy.ext.asyncio import AsyncSession

from core.accounts.access import AccountClerk, AccountReader
from core.http import DbSession
from core.premises import repository
from core.premises.models import Premise
from core.premises.schemas import PremiseIn, PremiseOut, ServiceOut
from core.premises.service import create_premise

router = APIRouter(prefix="/api/v1/premises", tags=["premises"])


async def premise_out(session: AsyncSession, premise: Premise) -> PremiseOut:
    out = PremiseOut.model_validate(premise)
    out.services = [ServiceOut.model_validate(s)
                    for s in await repository.services_of(session, premise_id=premise.id)]
    return out


@router.get("", response_model=list[PremiseOut], summary="Find premises by ZIP and address")
async def lookup(
    zip: str,
    session: DbSession,
    _caller: AccountReader,
    address: str | None = None,
) -> list[PremiseOut]:
    return [await premise_out(session, p)
            for p in await repository.by_address(session, zip_code=zip, address=address)]


@router.post("", response_model=PremiseOut, status_code=status.HTTP_201_CREATED)
async def create(body: PremiseIn, session: DbSession, _caller: AccountClerk) -> PremiseOut:
    data = body.model_dump()
    premise = await create_premise(session, zip_code=data.pop("zip"),
                                   services=[s.value for s in body.services],
                                   **{k: v for k, v in data.items() if k != "services"})
    return await premise_out(session, premise)


@router.get("/{premise_id}", response_model=PremiseOut)
async def read(premise_id: int, session: DbSession, _caller: AccountReader) -> PremiseOut:
    return await premise_out(session, await repository.get_premise(session, premise_id=premise_id))
