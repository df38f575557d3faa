"""Operator API: adjustments under approval limits, and the approval queue."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from core.accounts.access import AccountReader
from core.accounts.flows import ledger_out
from core.adjustments import repository
from core.adjustments.models import AdjustmentRequest
from core.adjustments.policy import AdjustmentLimits
from core.adjustments.schemas import AdjustmentIn, AdjustmentOut, AdjustmentRequestOut, DecisionIn
from core.adjustments.service import (
    AdjustmentOutcome,
    approve_adjustment,
    reject_adjustment,
    request_adjustment,
)
from core.billing import repository as ledger
from core.errors import Invalid
from core.http import CurrentCaller, DbSession, RuntimeDep
from core.money import from_cents

router = APIRouter(prefix="/api/v1", tags=["adjustments"])

LIMITS_DOC = """
Approval limits come from settings: an agent posts up to `agent_adjustment_limit`, a supervisor
up to `supervisor_adjustment_limit`, an admin without limit (sizes count, credit or debit).

- **201** posted: within the caller's limit.
- **202** pending approval: above the caller's limit; the body carries the request id for
  `POST /api/v1/approvals/{id}/approve` by someone else whose limit covers the amount.
- **403**: the caller's role may not adjust at all (integration, operations, system).
"""


def request_out(request: AdjustmentRequest) -> AdjustmentRequestOut:
    data = {k: getattr(request, k) for k in AdjustmentRequestOut.model_fields if k != "amount"}
    return AdjustmentRequestOut(amount=from_cents(request.amount_cents), **data)


async def adjustment_out(session: AsyncSession, outcome: AdjustmentOutcome) -> AdjustmentOut:
    state = "posted" if outcome.posted else (
        "rejected" if outcome.request.status == "rejected" else "pending_approval")
    return AdjustmentOut(
        status=state, request=request_out(outcome.request),
        entry=ledger_out(outcome.entry) if outcome.entry else None,
        balance=from_cents(await ledger.balance_cents(session,
                                                      account_id=outcome.request.account_id)),
    )


@router.post(
    "/accounts/{account_id}/adjustments",
    response_model=AdjustmentOut,
    status_code=status.HTTP_201_CREATED,
    description=LIMITS_DOC,
    responses={202: {"description": "Above the caller's limit: waiting for approval.",
                     "model": AdjustmentOut},
               403: {"description": "This role may not adjust."}},
)
async def adjust(
    account_id: int, body: AdjustmentIn, response: Response, session: DbSession,
    runtime: RuntimeDep, caller: CurrentCaller,
) -> AdjustmentOut:
    outcome = await request_adjustment(
        session, caller=caller, account_id=account_id, amount=body.amount, reason=body.reason,
        limits=AdjustmentLimits.from_settings(runtime.settings),
    )
    if not outcome.posted:
        response.status_code = status.HTTP_202_ACCEPTED
    return await adjustment_out(session, outcome)


@router.get("/approvals", response_model=list[AdjustmentRequestOut])
async def pending(
    session: DbSession, _caller: AccountReader, account_id: int | None = None
) -> list[AdjustmentRequestOut]:
    return [request_out(r) for r in await repository.pending(session, account_id=account_id)]


@router.post("/approvals/{request_id}/approve", response_model=AdjustmentOut,
             responses={403: {"description": "Own request, or above the approver's limit."},
                        409: {"description": "Already decided."}})
async def approve(
    request_id: int, session: DbSession, runtime: RuntimeDep, caller: CurrentCaller,
    body: DecisionIn | None = None,
) -> AdjustmentOut:
    outcome = await approve_adjustment(
        session, caller=caller, request_id=request_id,
        limits=AdjustmentLimits.from_settings(runtime.settings),
        note=body.reason if body else None,
    )
    return await adjustment_out(session, outcome)


@router.post("/approvals/{request_id}/reject", response_model=AdjustmentOut,
             responses={403: {"description": "Not allowed to decide this request."},
                        409: {"description": "Already decided."}})
async def reject(
    request_id: int, body: DecisionIn, session: DbSession, runtime: RuntimeDep,
    caller: CurrentCaller,
) -> AdjustmentOut:
    if not body.reason:
        raise Invalid("a rejection needs a reason")
    request = await reject_adjustment(
        session, caller=caller, request_id=request_id,
        limits=AdjustmentLimits.from_settings(runtime.settings), reason=body.reason,
    )
    return await adjustment_out(session, AdjustmentOutcome(request, None))
