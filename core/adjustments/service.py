"""Adjustments under approval limits: post within the caller's limit, else wait for approval."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from core.accounts.repository import get_account
from core.adjustments import repository
from core.adjustments.models import AdjustmentRequest
from core.adjustments.policy import (
    AdjustmentDecision,
    AdjustmentLimits,
    approval_refusal,
    decide_adjustment,
)
from core.audit.service import record_audit
from core.auth.service import Caller
from core.billing import repository as ledger
from core.billing.models import LedgerEntry
from core.clock import utcnow
from core.errors import Conflict, Forbidden, Invalid
from core.money import from_cents, to_cents


@dataclass(frozen=True, slots=True)
class AdjustmentOutcome:
    request: AdjustmentRequest
    entry: LedgerEntry | None  # None while the request waits for approval

    @property
    def posted(self) -> bool:
        return self.entry is not None


async def request_adjustment(
    session: AsyncSession,
    *,
    caller: Caller,
    account_id: int,
    amount: Decimal,
    reason: str,
    limits: AdjustmentLimits,
    code: str | None = None,
) -> AdjustmentOutcome:
    """Signed like the ledger (negative is a credit). Above the caller's limit: a pending request.

    Raises Forbidden when the caller's role may not adjust at all.
    """
    cents = to_cents(amount)
    if cents == 0:
        raise Invalid("an adjustment must not be zero")
    if not reason.strip():
        raise Invalid("an adjustment needs a reason")
    decision = decide_adjustment(role=caller.role, amount_cents=cents, limits=limits)
    if decision is AdjustmentDecision.FORBIDDEN:
        raise Forbidden(f"role {caller.role.value} may not post adjustments")
    await get_account(session, account_id=account_id, for_update=True)
    request = AdjustmentRequest(account_id=account_id, amount_cents=cents, reason=reason[:200],
                                requested_by=caller.name[:80], requested_role=caller.role.value,
                                code=code)
    session.add(request)
    await session.flush()
    if decision is AdjustmentDecision.REQUEST_APPROVAL:
        await record_audit(
            session, caller=caller, action="adjustment.request", entity="adjustment_request",
            entity_id=request.id, account_id=account_id, before=None,
            after={"amount": str(from_cents(cents)), "status": "pending"}, reason=reason,
        )
        return AdjustmentOutcome(request, None)
    entry = await _post(session, caller=caller, request=request)
    return AdjustmentOutcome(request, entry)


async def approve_adjustment(
    session: AsyncSession, *, caller: Caller, request_id: int, limits: AdjustmentLimits,
    note: str | None = None,
) -> AdjustmentOutcome:
    """Post a pending adjustment; only someone else whose limit covers the amount may."""
    request = await repository.get_request(session, request_id=request_id, for_update=True)
    _still_pending(request)
    refusal = approval_refusal(approver=caller.name, approver_role=caller.role,
                               requested_by=request.requested_by,
                               amount_cents=request.amount_cents, limits=limits)
    if refusal is not None:
        raise Forbidden(refusal, request_id=request_id)
    await get_account(session, account_id=request.account_id, for_update=True)
    entry = await _post(session, caller=caller, request=request, note=note)
    return AdjustmentOutcome(request, entry)


async def reject_adjustment(
    session: AsyncSession, *, caller: Caller, request_id: int, limits: AdjustmentLimits,
    reason: str,
) -> AdjustmentRequest:
    """Turn a pending adjustment down; the same authority as approving it is needed."""
    request = await repository.get_request(session, request_id=request_id, for_update=True)
    _still_pending(request)
    if limits.limit_cents(caller.role) == 0:
        raise Forbidden(f"role {caller.role.value} may not decide adjustments")
    refusal = approval_refusal(approver=caller.name, approver_role=caller.role,
                               requested_by=request.requested_by,
                               amount_cents=request.amount_cents, limits=limits)
    if refusal is not None and caller.name != request.requested_by:
        raise Forbidden(refusal, request_id=request_id)
    # A requester may withdraw their own request; that is a rejection too.
    request.status = "rejected"
    request.decided_by = caller.name[:80]
    request.decided_at = utcnow()
    await session.flush()
    await record_audit(
        session, caller=caller, action="adjustment.reject", entity="adjustment_request",
        entity_id=request.id, account_id=request.account_id, before={"status": "pending"},
        after={"status": "rejected", "amount": str(from_cents(request.amount_cents))},
        reason=reason,
    )
    return request


def _still_pending(request: AdjustmentRequest) -> None:
    if request.status != "pending":
        raise Conflict(f"adjustment request {request.id} is already {request.status}",
                       request_id=request.id)


async def _post(
    session: AsyncSession, *, caller: Caller, request: AdjustmentRequest, note: str | None = None,
) -> LedgerEntry:
    before = await ledger.balance_cents(session, account_id=request.account_id)
    entry = await ledger.add_entry(session, LedgerEntry(
        account_id=request.account_id, kind="adjustment", amount_cents=request.amount_cents,
        posted_at=utcnow(), memo=request.reason, actor=caller.name[:80], code=request.code,
    ))
    request.status = "approved"
    request.decided_by = caller.name[:80]
    request.decided_at = utcnow()
    request.ledger_entry_id = entry.id
    await session.flush()
    await record_audit(
        session, caller=caller, action="adjustment.post", entity="ledger_entry",
        entity_id=entry.id, account_id=request.account_id,
        before={"balance": str(from_cents(before))},
        after={"balance": str(from_cents(before + request.amount_cents)),
               "amount": str(from_cents(request.amount_cents)), "request_id": request.id,
               "requested_by": request.requested_by},
        reason=note or request.reason,
    )
    return entry
