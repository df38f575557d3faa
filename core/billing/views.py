"""Operator API: post a payment (idempotent on its reference) and return one as NSF."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from core.accounts.access import MoneyPoster
from core.accounts.flows import ledger_out
from core.billing.schemas import PaymentIn, PaymentOut, ReturnedPaymentOut, ReversePaymentIn
from core.billing.service import post_payment, reverse_payment_nsf
from core.http import DbSession

router = APIRouter(prefix="/api/v1", tags=["payments"])


@router.post(
    "/accounts/{account_id}/payments",
    response_model=PaymentOut,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "This reference was posted before; nothing new posted."},
               409: {"description": "The reference was used for a different payment."},
               422: {"description": "Bad amount, or a check/ACH on a cash-only account."}},
)
async def pay(
    account_id: int, body: PaymentIn, response: Response, session: DbSession, caller: MoneyPoster
) -> PaymentOut:
    """Amounts are decimal strings ("12.34"); floats, zero, negatives and sub-cents are 422."""
    result = await post_payment(session, caller=caller, account_id=account_id,
                                amount=body.amount, method=body.method,
                                reference=body.reference, memo=body.memo)
    if result.replayed:
        response.status_code = status.HTTP_200_OK
    return PaymentOut(payment=ledger_out(result.payment), replayed=result.replayed,
                      balance=result.balance)


@router.post(
    "/payments/{payment_id}/return",
    response_model=ReturnedPaymentOut,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "Already returned."}},
)
async def returned(
    payment_id: int, session: DbSession, caller: MoneyPoster, body: ReversePaymentIn | None = None
) -> ReturnedPaymentOut:
    """A returned payment (NSF): reversal, fee, and cash-only after repeated returns."""
    result = await reverse_payment_nsf(session, caller=caller, payment_id=payment_id,
                                       reason=(body or ReversePaymentIn()).reason)
    return ReturnedPaymentOut(reversal=ledger_out(result.reversal),
                              fee=ledger_out(result.fee) if result.fee else None,
                              cash_only=result.cash_only, balance=result.balance)
