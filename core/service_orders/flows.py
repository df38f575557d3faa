"""Orders that span domains: start (deposit), stop (final bill), transfer, leak credit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from core.accounts.repository import get_account
from core.adjustments.policy import AdjustmentLimits
from core.adjustments.service import AdjustmentOutcome, request_adjustment
from core.auth.service import Caller
from core.billing import repository as ledger
from core.billing.models import Bill
from core.billing.policy import prorate_cents
from core.billing.service import BillLineIn, post_bill
from core.clock import today as clock_today
from core.deposits.models import Deposit
from core.deposits.repository import open_for
from core.deposits.service import require_deposit
from core.errors import Conflict, Invalid
from core.money import from_cents
from core.premises import repository as premises
from core.premises.models import Service
from core.service_orders import service
from core.service_orders.models import ServiceOrder

FINAL_BILL_DUE_DAYS = 21


@dataclass(frozen=True, slots=True)
class StartResult:
    order: ServiceOrder
    deposit: Deposit | None


async def start_service(
    session: AsyncSession, *, caller: Caller, account_id: int, premise_id: int, start_on: date,
    service_kinds: list[str] | None = None,
) -> StartResult:
    """Open a start order on a vacant premise, and bill the deposit the policy requires."""
    premise = await premises.get_premise(session, premise_id=premise_id)
    if premise.account_id is not None and premise.account_id != account_id:
        raise Conflict("this premise is served on another account; stop that service first")
    kinds = service_kinds or [s.kind for s in await premises.services_of(session,
                                                                          premise_id=premise_id)]
    if not kinds:
        raise Invalid("name the services to start")
    order = await service.open_order(
        session, caller=caller, kind="start", account_id=account_id, premise_id=premise_id,
        requested_for=start_on, details={"services": sorted(set(kinds))},
    )
    deposit = None
    if await open_for(session, account_id=account_id) is None:
        deposit = await require_deposit(session, caller=caller, account_id=account_id,
                                        premise_id=premise_id)
    if deposit is not None:
        order.details = {**order.details, "deposit_id": deposit.id,
                         "deposit": str(from_cents(deposit.required_cents))}
        await session.flush()
    return StartResult(order, deposit)


async def complete_start(
    session: AsyncSession, *, caller: Caller, order_id: int, started_on: date | None = None,
) -> ServiceOrder:
    """Service is on: the premise is billed to the account and its services are active."""
    order = await service.require_open(session, order_id=order_id, kind="start")
    assert order.premise_id is not None and order.account_id is not None
    premise = await premises.get_premise(session, premise_id=order.premise_id)
    if premise.account_id not in (None, order.account_id):
        raise Conflict("this premise was taken by another account since the order was opened")
    day = started_on or order.requested_for or clock_today()
    premise.account_id = order.account_id
    wanted = set(order.details.get("services", []))
    existing = {s.kind: s for s in await premises.services_of(session, premise_id=premise.id)}
    for kind in sorted(wanted):
        row = existing.get(kind) or Service(premise_id=premise.id, kind=kind)
        row.account_id, row.status, row.started_on, row.stopped_on = (
            order.account_id, "active", day, None)
        session.add(row)
    return await service.close_order(session, order=order, started_on=str(day))


async def request_stop(
    session: AsyncSession, *, caller: Caller, account_id: int, premise_id: int, stop_on: date,
) -> ServiceOrder:
    premise = await premises.get_premise(session, premise_id=premise_id)
    if premise.account_id != account_id:
        raise Invalid("this premise is not served on this account")
    estimate = await _final_bill_cents(session, account_id=account_id, stop_on=stop_on)
    return await service.open_order(
        session, caller=caller, kind="stop", account_id=account_id, premise_id=premise_id,
        requested_for=stop_on, details={"estimated_final_bill": str(from_cents(estimate))},
    )


async def complete_stop(
    session: AsyncSession, *, caller: Caller, order_id: int, stopped_on: date | None = None,
) -> tuple[ServiceOrder, Bill | None]:
    """Service off: services stopped, premise vacant, a prorated final bill posted."""
    order = await service.require_open(session, order_id=order_id, kind="stop")
    assert order.premise_id is not None and order.account_id is not None
    day = stopped_on or order.requested_for or clock_today()
    premise = await premises.get_premise(session, premise_id=order.premise_id)
    account = await get_account(session, account_id=order.account_id, for_update=True)
    cents = await _final_bill_cents(session, account_id=account.id, stop_on=day)
    services = [s for s in await premises.services_of(session, premise_id=premise.id)
                if s.account_id == account.id and s.status == "active"]
    for row in services:
        row.status, row.stopped_on = "stopped", day
    premise.account_id = None
    await session.flush()
    bill = None
    last = await ledger.recent_bills(session, account_id=account.id, limit=1)
    if cents > 0 and last:
        kind = services[0].kind if services else "electric"
        bill = await post_bill(
            session, account_id=account.id, period_start=last[0].period_end, period_end=day,
            issued_on=day, due_on=day + timedelta(days=FINAL_BILL_DUE_DAYS),
            lines=[BillLineIn(kind, Decimal(0), "—", from_cents(cents))],
            actor=caller.name[:80], code="final_bill",
        )
    if not await premises.of_account(session, account_id=account.id):
        account.status = "final"
        account.closed_on = day
    await session.flush()
    await service.close_order(session, order=order, stopped_on=str(day),
                              final_bill_id=bill.id if bill else None,
                              final_bill=str(from_cents(cents)))
    return order, bill


async def transfer_service(
    session: AsyncSession, *, caller: Caller, account_id: int, from_premise_id: int,
    to_premise_id: int, move_on: date,
) -> tuple[ServiceOrder, StartResult]:
    """Moving: stop at the old premise and start at the new one, on the same account."""
    if from_premise_id == to_premise_id:
        raise Invalid("a transfer needs two different premises")
    stop = await request_stop(session, caller=caller, account_id=account_id,
                              premise_id=from_premise_id, stop_on=move_on)
    start = await start_service(session, caller=caller, account_id=account_id,
                                premise_id=to_premise_id, start_on=move_on)
    stop.details = {**stop.details, "transfer_to_order_id": start.order.id}
    start.order.details = {**start.order.details, "transfer_from_order_id": stop.id}
    await session.flush()
    return stop, start


async def complete_leak_adjustment(
    session: AsyncSession, *, caller: Caller, order_id: int, limits: AdjustmentLimits,
) -> tuple[ServiceOrder, AdjustmentOutcome]:
    """The leak credit goes through the approval limits like any adjustment."""
    order = await service.require_open(session, order_id=order_id, kind="leak_adjustment")
    assert order.account_id is not None
    credit = Decimal(order.details["credit"])
    outcome = await request_adjustment(
        session, caller=caller, account_id=order.account_id, amount=-credit,
        reason=f"leak adjustment, bill {order.details['bill_id']}", limits=limits,
        code="leak_credit",
    )
    await service.close_order(session, order=order, adjustment_request_id=outcome.request.id,
                              posted=outcome.posted)
    return order, outcome


async def _final_bill_cents(session: AsyncSession, *, account_id: int, stop_on: date) -> int:
    """The last bill's daily cost over the days since it, shared across the account's premises."""
    last = await ledger.recent_bills(session, account_id=account_id, limit=1)
    if not last:
        return 0
    bill = last[0]
    served = max(1, len(await premises.of_account(session, account_id=account_id)))
    period_days = max(1, (bill.period_end - bill.period_start).days)
    days = (stop_on - bill.period_end).days
    return prorate_cents(period_cents=bill.amount_cents // served, period_days=period_days,
                         days_used=days)
