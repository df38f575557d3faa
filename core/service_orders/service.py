"""Service order verbs that stay inside the order: opening, re-reads and their fee, cancelling.

Orders whose completion moves money or service across domains live in flows.py.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.accounts.repository import get_account
from core.audit.service import record_audit
from core.auth.service import Caller
from core.billing import repository as ledger
from core.billing.models import Bill, LedgerEntry
from core.billing.policy import (
    DEFAULT_BILLING_POLICY,
    BillingPolicy,
    leak_credit_cents,
    reread_fee_cents,
)
from core.clock import today as clock_today
from core.clock import utcnow
from core.errors import Conflict, Invalid, NotFound
from core.money import from_cents
from core.premises.repository import get_premise
from core.service_orders import repository
from core.service_orders.models import ServiceOrder

ORDER_KINDS = ("start", "stop", "transfer", "meter_reread", "leak_adjustment")


async def open_order(
    session: AsyncSession,
    *,
    caller: Caller,
    kind: str,
    account_id: int | None,
    premise_id: int | None,
    requested_for: date | None = None,
    details: dict[str, Any] | None = None,
    fee_cents: int = 0,
) -> ServiceOrder:
    if kind not in ORDER_KINDS:
        raise Invalid(f"service order kind must be one of {', '.join(ORDER_KINDS)}")
    if account_id is not None:
        await get_account(session, account_id=account_id)
    if premise_id is not None:
        await get_premise(session, premise_id=premise_id)
    order = ServiceOrder(kind=kind, status="open", account_id=account_id, premise_id=premise_id,
                         requested_for=requested_for, fee_cents=fee_cents,
                         details=details or {}, created_by=caller.name[:80])
    session.add(order)
    await session.flush()
    return order


async def require_open(session: AsyncSession, *, order_id: int, kind: str | None = None) -> ServiceOrder:
    order = await repository.get_order(session, order_id=order_id, for_update=True)
    if kind is not None and order.kind != kind:
        raise Invalid(f"service order {order_id} is a {order.kind} order, not {kind}")
    if order.status != "open":
        raise Conflict(f"service order {order_id} is {order.status}")
    return order


async def close_order(session: AsyncSession, *, order: ServiceOrder, **details: Any) -> ServiceOrder:
    order.status = "completed"
    order.completed_at = utcnow()
    order.details = {**(order.details or {}), **details}
    await session.flush()
    return order


async def cancel_order(session: AsyncSession, *, caller: Caller, order_id: int, reason: str) -> ServiceOrder:
    order = await require_open(session, order_id=order_id)
    order.status = "cancelled"
    order.details = {**(order.details or {}), "cancel_reason": reason[:200],
                     "cancelled_by": caller.name}
    await session.flush()
    return order


async def request_meter_reread(
    session: AsyncSession, *, caller: Caller, account_id: int, premise_id: int,
    reason: str = "customer disputes the reading",
    policy: BillingPolicy = DEFAULT_BILLING_POLICY,
) -> ServiceOrder:
    """The fee is decided now for the customer to hear, and charged only if the read was right."""
    premise = await get_premise(session, premise_id=premise_id)
    if premise.account_id != account_id:
        raise Invalid("this premise is not served on this account")
    prior = await repository.count_since(
        session, account_id=account_id, kind="meter_reread",
        since=utcnow() - timedelta(days=policy.reread_window_days),
    )
    fee = reread_fee_cents(misread=False, prior_rereads_in_window=prior, policy=policy)
    return await open_order(
        session, caller=caller, kind="meter_reread", account_id=account_id,
        premise_id=premise_id, fee_cents=fee,
        details={"reason": reason[:200], "prior_rereads_in_window": prior,
                 "fee_if_read_was_right": str(from_cents(fee))},
    )


async def complete_meter_reread(
    session: AsyncSession, *, caller: Caller, order_id: int, misread: bool,
) -> tuple[ServiceOrder, LedgerEntry | None]:
    """Charge the re-read fee unless the meter was misread (or it was the first this year)."""
    order = await require_open(session, order_id=order_id, kind="meter_reread")
    fee = None
    charged = 0 if misread else order.fee_cents
    if charged > 0 and order.account_id is not None:
        await get_account(session, account_id=order.account_id, for_update=True)
        before = await ledger.balance_cents(session, account_id=order.account_id)
        fee = await ledger.add_entry(session, LedgerEntry(
            account_id=order.account_id, kind="fee", amount_cents=charged, posted_at=utcnow(),
            memo="meter re-read fee", actor=caller.name[:80], code="reread_fee",
        ))
        await record_audit(
            session, caller=caller, action="fee.reread", entity="ledger_entry",
            entity_id=fee.id, account_id=order.account_id,
            before={"balance": str(from_cents(before))},
            after={"balance": str(from_cents(before + charged)), "order_id": order.id},
            reason="meter re-read confirmed the original reading",
        )
    await close_order(session, order=order, misread=misread, fee_charged=str(from_cents(charged)))
    return order, fee


async def request_leak_adjustment(
    session: AsyncSession, *, caller: Caller, account_id: int, bill_id: int,
    repaired_on: date | None = None, policy: BillingPolicy = DEFAULT_BILLING_POLICY,
) -> ServiceOrder:
    """Price the credit from the leak bill against the usual bill; it posts on completion."""
    bill = await session.get(Bill, bill_id)
    if bill is None or bill.account_id != account_id:
        raise NotFound(f"bill {bill_id} not found on this account", bill_id=bill_id)
    if await repository.leak_order_for_bill(session, account_id=account_id, bill_id=bill.id):
        raise Conflict("a leak adjustment was already requested for this bill", bill_id=bill_id)
    earlier = [b for b in await ledger.recent_bills(session, account_id=account_id, limit=13)
               if b.id != bill.id and b.issued_on < bill.issued_on]
    if not earlier:
        raise Invalid("no earlier bills to compare the leak bill with")
    usual = sum(b.amount_cents for b in earlier) // len(earlier)
    credit = leak_credit_cents(leak_bill_cents=bill.amount_cents, usual_bill_cents=usual,
                               policy=policy)
    if credit <= 0:
        raise Invalid("this bill is not above the usual bill; there is no leak credit")
    return await open_order(
        session, caller=caller, kind="leak_adjustment", account_id=account_id, premise_id=None,
        requested_for=repaired_on or clock_today(),
        details={"bill_id": bill.id, "usual_bill": str(from_cents(usual)),
                 "leak_bill": str(from_cents(bill.amount_cents)),
                 "credit": str(from_cents(credit))},
    )
