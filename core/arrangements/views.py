"""Operator API: the arrangement offer the policy allows, and accepting it."""

from __future__ import annotations

from fastapi import APIRouter, status

from core.accounts.access import AccountClerk, AccountReader
from core.accounts.schemas import ArrangementOut, InstallmentOut
from core.arrangements.policy import ArrangementRefusal
from core.arrangements.schemas import ArrangementIn, OfferOut
from core.arrangements.service import arrangement_offer, create_arrangement
from core.http import DbSession
from core.money import from_cents

router = APIRouter(prefix="/api/v1/accounts/{account_id}", tags=["arrangements"])


@router.get("/arrangement-offer", response_model=OfferOut)
async def offer(account_id: int, session: DbSession, _caller: AccountReader) -> OfferOut:
    """Terms when eligible; otherwise `eligible: false` and the reason to tell the customer."""
    decision = await arrangement_offer(session, account_id=account_id)
    if isinstance(decision, ArrangementRefusal):
        return OfferOut(eligible=False, reason=decision.reason, code=decision.code)
    return OfferOut(
        eligible=True, total=from_cents(decision.total_cents),
        down_payment=from_cents(decision.down_payment_cents),
        down_payment_rate=decision.down_payment_rate,
        min_installments=decision.min_installments, max_installments=decision.max_installments,
        first_installment_on=decision.first_installment_on, interval_days=decision.interval_days,
    )


@router.post(
    "/arrangements",
    response_model=ArrangementOut,
    status_code=status.HTTP_201_CREATED,
    responses={422: {"description": "Not eligible (the message says why), or a bad count."}},
)
async def create(
    account_id: int, body: ArrangementIn, session: DbSession, caller: AccountClerk
) -> ArrangementOut:
    """Creates it on the policy's terms and holds a pending disconnect for this debt."""
    arrangement, rows = await create_arrangement(session, caller=caller, account_id=account_id,
                                                 installments=body.installments)
    return ArrangementOut(
        id=arrangement.id, status=arrangement.status, total=from_cents(arrangement.total_cents),
        down_payment=from_cents(arrangement.down_payment_cents),
        installment_count=arrangement.installment_count, created_on=arrangement.created_on,
        ended_on=arrangement.ended_on,
        installments=[InstallmentOut(seq=r.seq, due_on=r.due_on, amount=from_cents(r.amount_cents),
                                     paid=from_cents(r.paid_cents)) for r in rows],
    )
