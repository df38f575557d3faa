"""Operator API: the deposit requirement, billing a deposit, waiving one."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from core.accounts.access import AccountClerk, AccountReader
from core.accounts.schemas import DepositOut
from core.deposits.models import Deposit
from core.deposits.schemas import DepositIn, RequirementOut, WaiveIn
from core.deposits.service import deposit_requirement, require_deposit, waive_deposit
from core.http import CurrentCaller, DbSession
from core.money import from_cents

router = APIRouter(prefix="/api/v1", tags=["deposits"])


def deposit_out(deposit: Deposit) -> DepositOut:
    return DepositOut(id=deposit.id, status=deposit.status,
                      required=from_cents(deposit.required_cents),
                      paid=from_cents(deposit.paid_cents), reason=deposit.reason,
                      required_on=deposit.required_on, due_on=deposit.due_on,
                      refund_review_on=deposit.refund_review_on)


@router.get("/accounts/{account_id}/deposit-requirement", response_model=RequirementOut)
async def requirement(
    account_id: int, session: DbSession, _caller: AccountReader, premise_id: int | None = None
) -> RequirementOut:
    need = await deposit_requirement(session, account_id=account_id, premise_id=premise_id)
    return RequirementOut(required=from_cents(need.required_cents),
                          monthly_basis=from_cents(need.monthly_basis_cents), basis=need.basis,
                          reason=need.reason)


@router.post(
    "/accounts/{account_id}/deposits",
    response_model=DepositOut | None,
    status_code=status.HTTP_201_CREATED,
    responses={204: {"description": "The policy requires no deposit; nothing billed."},
               409: {"description": "An open deposit exists."}},
)
async def create(
    account_id: int, body: DepositIn, response: Response, session: DbSession,
    caller: AccountClerk,
) -> DepositOut | None:
    deposit = await require_deposit(session, caller=caller, account_id=account_id,
                                    amount=body.amount, premise_id=body.premise_id,
                                    reason=body.reason)
    if deposit is None:
        response.status_code = status.HTTP_204_NO_CONTENT
        return None
    return deposit_out(deposit)


@router.post("/deposits/{deposit_id}/waive", response_model=DepositOut,
             responses={403: {"description": "Only a supervisor waives."}})
async def waive(
    deposit_id: int, body: WaiveIn, session: DbSession, caller: CurrentCaller
) -> DepositOut:
    return deposit_out(await waive_deposit(session, caller=caller, deposit_id=deposit_id,
                                           reason=body.reason))
