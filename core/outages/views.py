"""Operations' outage API (/api/v1/outages) and the signed OMS webhook.

Writes go through `flows.writing` rather than `DbSession`: it commits, then publishes the
domain events, so a request that fails announces nothing.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from fastapi import APIRouter, Body, Depends, Header, Query, Response, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import func, select

from core.auth.service import Caller
from core.enums import Channel, Role
from core.errors import Invalid, NotFound
from core.http import DbSession, RuntimeDep, require_role
from core.outages import flows, repository, service
from core.outages.enums import DeviceKind, OutageStatus, ReportSource
from core.outages.models import Outage
from core.outages.oms import DeviceRef, OmsReceipt, VerifiedOmsBody, parse_events
from core.outages.schemas import (
    CauseUpdate,
    CrewUpdate,
    EtrUpdate,
    MergeOutages,
    OutageRead,
    OutageReportRead,
    ReportOutcomeRead,
)
from core.premises.models import Premise

router = APIRouter(tags=["outages"])
OUTAGES = "/api/v1/outages"

# Admin is always allowed (require_role adds it). Agents, integrations and the bot read and
# report; only operations and supervisors run an outage.
_EVERYONE = (Role.AGENT, Role.SUPERVISOR, Role.OPERATIONS, Role.INTEGRATION, Role.SYSTEM)
OutageReader = Annotated[Caller, Depends(require_role(*_EVERYONE))]
OutageReporter = Annotated[Caller, Depends(require_role(*_EVERYONE))]
OutageOperator = Annotated[Caller, Depends(require_role(Role.OPERATIONS, Role.SUPERVISOR))]
IfMatch = Annotated[str | None, Header(description="the outage's ETag; 409 if it has changed")]


def _out(response: Response, outage: Outage) -> OutageRead:
    response.headers["ETag"] = f'"{outage.version}"'
    return OutageRead.model_validate(outage)


def _expected(body_version: int | None, if_match: str | None) -> int | None:
    """The version the caller last saw: the body's `expected_version` or the If-Match ETag."""
    header = None
    if if_match is not None and if_match.strip() != "*":
        tag = if_match.strip().removeprefix("W/").strip('"')
        if not tag.isdigit():
            raise Invalid("If-Match must be an outage ETag such as \"3\"")
        header = int(tag)
    if body_version is not None and header is not None and body_version != header:
        raise Invalid("expected_version and If-Match disagree")
    return body_version if body_version is not None else header


# -- reading ---------------------------------------------------------------------------------


class OutagePage(BaseModel):
    """`total` and `customers_affected` count every matching outage, not only this page."""

    items: list[OutageRead]
    total: int
    customers_affected: int
    limit: int
    offset: int


class PremiseOutageRead(BaseModel):
    premise_id: int
    outage: OutageRead | None
    report: OutageReportRead | None  # the premise's open report, if it has one


@router.get(OUTAGES, response_model=OutagePage)
async def list_outages(
    session: DbSession,
    _caller: OutageReader,
    statuses: Annotated[list[OutageStatus] | None, Query(alias="status")] = None,
    device_kind: Annotated[list[DeviceKind] | None, Query()] = None,
    include_merged: bool = False,
    order: Literal["newest", "customers"] = "newest",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> OutagePage:
    """Live outages unless `status` says otherwise; merged ones only on request (their
    customers already count in the outage they were merged into)."""
    where: list[Any] = [Outage.status.in_([s.value for s in statuses]) if statuses
                        else Outage.status != OutageStatus.RESTORED.value]
    if device_kind:
        where.append(Outage.device_kind.in_([k.value for k in device_kind]))
    if not include_merged:
        where.append(Outage.merged_into_id.is_(None))
    total, customers = (await session.execute(select(
        func.count(), func.coalesce(func.sum(Outage.customers_affected), 0)).where(*where))).one()
    ordering = ((Outage.customers_affected.desc(), Outage.id.desc()) if order == "customers"
                else (Outage.started_at.desc(), Outage.id.desc()))
    outages = await session.scalars(
        select(Outage).where(*where).order_by(*ordering).limit(limit).offset(offset))
    return OutagePage(items=[OutageRead.model_validate(o) for o in outages], total=total,
                      customers_affected=customers, limit=limit, offset=offset)


@router.get(f"{OUTAGES}/{{outage_id}}", response_model=OutageRead)
async def read_outage(
    outage_id: int, response: Response, session: DbSession, _caller: OutageReader
) -> OutageRead:
    outage = await session.get(Outage, outage_id)
    if outage is None:
        raise NotFound("outage not found", outage_id=outage_id)
    return _out(response, outage)


@router.get("/api/v1/premises/{premise_id}/outage", response_model=PremiseOutageRead)
async def premise_outage(
    premise_id: int, session: DbSession, _caller: OutageReader
) -> PremiseOutageRead:
    """What an agent tells a caller: the outage covering the premise, and their own report."""
    if await session.get(Premise, premise_id) is None:
        raise NotFound("premise not found", premise_id=premise_id)
    outage = await service.outage_for_premise(session, premise_id)
    report = await repository.open_report(session, premise_id=premise_id)
    return PremiseOutageRead(
        premise_id=premise_id,
        outage=OutageRead.model_validate(outage) if outage else None,
        report=OutageReportRead.model_validate(report) if report else None,
    )


# -- reports ---------------------------------------------------------------------------------


class ReportIn(BaseModel):
    """By premise, or by meter number (a smart meter's last gasp, unless `source` says else).

    Without `source`: last_gasp for a meter, agent when staff file it, else customer (an
    integration such as the IVR reporting for a caller)."""

    model_config = ConfigDict(extra="forbid")

    premise_id: int | None = None
    meter_number: str | None = Field(default=None, min_length=1, max_length=32)
    source: ReportSource | None = None
    contact_id: int | None = None
    channel: Channel | None = None
    hazard: str | None = Field(default=None, max_length=40)
    at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _one_place(self) -> Self:
        if (self.premise_id is None) == (self.meter_number is None):
            raise ValueError("give premise_id or meter_number, not both")
        return self


_STAFF = {Role.AGENT, Role.SUPERVISOR, Role.OPERATIONS, Role.ADMIN}


@router.post(f"{OUTAGES}/reports", response_model=ReportOutcomeRead,
             status_code=status.HTTP_201_CREATED)
async def file_report(
    body: ReportIn, response: Response, runtime: RuntimeDep, caller: OutageReporter
) -> ReportOutcomeRead:
    """201 with a new report; 200 with the premise's open one when it was already reported."""
    source = body.source or (ReportSource.LAST_GASP if body.meter_number
                             else ReportSource.AGENT if caller.role in _STAFF
                             else ReportSource.CUSTOMER)
    async with flows.writing(runtime, caller) as write:
        outcome = await flows.report(
            write, premise_id=body.premise_id, meter_number=body.meter_number, source=source,
            contact_id=body.contact_id, channel=body.channel, hazard=body.hazard, at=body.at)
        if not outcome.created:
            response.status_code = status.HTTP_200_OK
        return ReportOutcomeRead(
            report=OutageReportRead.model_validate(outcome.report),
            outage=OutageRead.model_validate(outcome.outage) if outcome.outage else None,
            created=outcome.created,
        )


# -- operations --------------------------------------------------------------------------------


class ConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outage_id: int | None = None
    device: DeviceRef | None = None
    cause: str | None = Field(default=None, max_length=80)
    expected_version: int | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        if (self.outage_id is None) == (self.device is None):
            raise ValueError("give outage_id or device, not both")
        return self


class ConfirmOneIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cause: str | None = Field(default=None, max_length=80)
    expected_version: int | None = None


class RestoreIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expected_version: int | None = None


class MergeIn(MergeOutages):
    model_config = ConfigDict(extra="forbid")

    child_version: int | None = None
    parent_version: int | None = None


@router.post(f"{OUTAGES}/confirm", response_model=OutageRead)
async def confirm(
    body: ConfirmIn, response: Response, runtime: RuntimeDep, caller: OutageOperator,
    if_match: IfMatch = None,
) -> OutageRead:
    """Confirm a predicted outage, or one operations found on a device (opened if none is live)."""
    version = _expected(body.expected_version, if_match)
    async with flows.writing(runtime, caller) as write:
        outage = await flows.confirm(write, outage_id=body.outage_id, device=body.device,
                                     cause=body.cause, expected_version=version)
        return _out(response, outage)


@router.post(f"{OUTAGES}/{{outage_id}}/confirm", response_model=OutageRead)
async def confirm_one(
    outage_id: int, response: Response, runtime: RuntimeDep, caller: OutageOperator,
    body: Annotated[ConfirmOneIn | None, Body()] = None, if_match: IfMatch = None,
) -> OutageRead:
    body = body or ConfirmOneIn()
    version = _expected(body.expected_version, if_match)
    async with flows.writing(runtime, caller) as write:
        outage = await flows.confirm(write, outage_id=outage_id, device=None, cause=body.cause,
                                     expected_version=version)
        return _out(response, outage)


@router.put(f"{OUTAGES}/{{outage_id}}/etr", response_model=OutageRead)
@router.post(f"{OUTAGES}/{{outage_id}}/etr", response_model=OutageRead)
async def set_etr(
    outage_id: int, body: EtrUpdate, response: Response, runtime: RuntimeDep,
    caller: OutageOperator, if_match: IfMatch = None,
) -> OutageRead:
    """A new estimated restoration time (with its offset; null clears it)."""
    version = _expected(body.expected_version, if_match)
    async with flows.writing(runtime, caller) as write:
        outage = await flows.operate(write, "outage.etr", outage_id, lambda: service.set_etr(
            write.session, outage_id=outage_id, etr=body.etr, expected_version=version))
        return _out(response, outage)


@router.put(f"{OUTAGES}/{{outage_id}}/crew", response_model=OutageRead)
@router.post(f"{OUTAGES}/{{outage_id}}/crew", response_model=OutageRead)
async def set_crew(
    outage_id: int, body: CrewUpdate, response: Response, runtime: RuntimeDep,
    caller: OutageOperator, if_match: IfMatch = None,
) -> OutageRead:
    """A crew on it (which confirms the outage); null takes the crew off again."""
    version = _expected(body.expected_version, if_match)
    async with flows.writing(runtime, caller) as write:
        outage = await flows.operate(write, "outage.crew", outage_id, lambda: service.set_crew(
            write.session, outage_id=outage_id, crew=body.crew, expected_version=version))
        return _out(response, outage)


@router.put(f"{OUTAGES}/{{outage_id}}/cause", response_model=OutageRead)
@router.post(f"{OUTAGES}/{{outage_id}}/cause", response_model=OutageRead)
async def set_cause(
    outage_id: int, body: CauseUpdate, response: Response, runtime: RuntimeDep,
    caller: OutageOperator, if_match: IfMatch = None,
) -> OutageRead:
    version = _expected(body.expected_version, if_match)
    async with flows.writing(runtime, caller) as write:
        outage = await flows.operate(write, "outage.cause", outage_id, lambda: service.set_cause(
            write.session, outage_id=outage_id, cause=body.cause, expected_version=version))
        return _out(response, outage)


@router.post(f"{OUTAGES}/{{outage_id}}/restore", response_model=OutageRead)
async def restore(
    outage_id: int, response: Response, runtime: RuntimeDep, caller: OutageOperator,
    body: Annotated[RestoreIn | None, Body()] = None, if_match: IfMatch = None,
) -> OutageRead:
    """Power is back: closes the outage, those merged into it, and their reports."""
    version = _expected(body.expected_version if body else None, if_match)
    async with flows.writing(runtime, caller) as write:
        outage = await flows.operate(
            write, "outage.restore", outage_id,
            lambda: service.restore_outage(write.session, outage_id=outage_id,
                                           expected_version=version))
        return _out(response, outage)


@router.post(f"{OUTAGES}/merge", response_model=OutageRead)
async def merge(
    body: MergeIn, response: Response, runtime: RuntimeDep, caller: OutageOperator
) -> OutageRead:
    """One cause behind two outages: the child's customers follow the parent (returned)."""
    async with flows.writing(runtime, caller) as write:
        outage = await flows.merge(write, child_id=body.child_id, parent_id=body.parent_id,
                                   child_version=body.child_version,
                                   parent_version=body.parent_version)
        return _out(response, outage)


# -- the OMS webhook -------------------------------------------------------------------------


@router.post("/api/v1/oms/events", response_model=OmsReceipt, tags=["oms"])
async def oms_events(body: VerifiedOmsBody, runtime: RuntimeDep) -> OmsReceipt:
    """Signed OMS events, applied in order, each once and in its own transaction.

    One refused event (unknown device, stale version) does not hold back the rest: the
    receipt says per event whether it was applied, a duplicate, or rejected and why."""
    events = parse_events(body)
    return OmsReceipt(results=[await flows.receive_oms_event(runtime, event) for event in events])
