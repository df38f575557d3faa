"""The account summary: one read across the ledger, bills, arrangements, deposits and orders."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from core.accounts.repository import get_account
from core.accounts.schemas import (
    AccountOut,
    AccountSummaryOut,
    ArrangementOut,
    CollectionsOut,
    DepositOut,
    InstallmentOut,
    PaymentBrief,
    PremiseBrief,
    ServiceOrderOut,
)
from core.adjustments import repository as adjustments
from core.arrangements import repository as arrangements
from core.billing import repository as ledger
from core.billing.models import Bill, LedgerEntry
from core.billing.policy import Aging, age_balance
from core.billing.schemas import AgingOut, BillOut, LedgerEntryOut
from core.clock import today as clock_today
from core.customers.repository import get_customer
from core.deposits import repository as deposits
from core.money import from_cents
from core.premises import repository as premises
from core.service_orders import repository as orders
from core.service_orders.models import ServiceOrder


async def account_summary(
    session: AsyncSession, *, account_id: int, today: date | None = None, history: int = 12,
) -> AccountSummaryOut:
    day = today or clock_today()
    account = await get_account(session, account_id=account_id)
    customer = await get_customer(session, customer_id=account.customer_id)
    balance = await ledger.balance_cents(session, account_id=account.id)
    aging = age_balance(balance_cents=balance,
                        items=await ledger.aging_items(session, account_id=account.id), today=day)
    bills = await ledger.recent_bills(session, account_id=account.id, limit=history)
    payments = await ledger.recent_payments(session, account_id=account.id, limit=history)
    reversed_ids = await ledger.reversed_ids(session, entry_ids=[p.id for p in payments])
    arrangement_rows = []
    for arrangement in await arrangements.of_account(session, account_id=account.id):
        installments = await arrangements.installments_of(session, arrangement_id=arrangement.id)
        arrangement_rows.append(ArrangementOut(
            id=arrangement.id, status=arrangement.status,
            total=from_cents(arrangement.total_cents),
            down_payment=from_cents(arrangement.down_payment_cents),
            installment_count=arrangement.installment_count, created_on=arrangement.created_on,
            ended_on=arrangement.ended_on,
            installments=[InstallmentOut(seq=i.seq, due_on=i.due_on,
                                         amount=from_cents(i.amount_cents),
                                         paid=from_cents(i.paid_cents)) for i in installments],
        ))
    return AccountSummaryOut(
        account=AccountOut.model_validate(account),
        customer_name=customer.display_name,
        balance=from_cents(balance),
        aging=aging_out(aging),
        last_bill=bill_out(bills[0]) if bills else None,
        bills=[bill_out(b) for b in bills],
        payments=[PaymentBrief(payment=ledger_out(p), reversed=p.id in reversed_ids)
                  for p in payments],
        arrangements=arrangement_rows,
        deposits=[DepositOut(id=d.id, status=d.status, required=from_cents(d.required_cents),
                             paid=from_cents(d.paid_cents), reason=d.reason,
                             required_on=d.required_on, due_on=d.due_on,
                             refund_review_on=d.refund_review_on)
                  for d in await deposits.of_account(session, account_id=account.id)],
        open_service_orders=[order_out(o) for o in
                             await orders.open_for_account(session, account_id=account.id)],
        premises=[PremiseBrief.model_validate(p)
                  for p in await premises.of_account(session, account_id=account.id)],
        collections=CollectionsOut(
            stage=account.collection_stage, since=account.collection_stage_at,
            disconnect_pending=account.disconnect_pending,
            hold=account.disconnect_hold_reason, medical_hold_until=account.medical_hold_until,
            bankruptcy_filed_on=account.bankruptcy_filed_on,
        ),
        pending_adjustment_ids=[r.id for r in
                                await adjustments.pending(session, account_id=account.id)],
    )


def aging_out(aging: Aging) -> AgingOut:
    return AgingOut(
        current=from_cents(aging.current_cents), days_30=from_cents(aging.days_30_cents),
        days_60=from_cents(aging.days_60_cents), days_90_plus=from_cents(aging.days_90_plus_cents),
        past_due=from_cents(aging.past_due_cents), oldest_past_due_on=aging.oldest_past_due_on,
    )


def bill_out(bill: Bill) -> BillOut:
    return BillOut(id=bill.id, period_start=bill.period_start, period_end=bill.period_end,
                   issued_on=bill.issued_on, due_on=bill.due_on, amount=from_cents(bill.amount_cents))


def ledger_out(entry: LedgerEntry) -> LedgerEntryOut:
    data = {k: getattr(entry, k) for k in ("id", "account_id", "kind", "posted_at", "method",
                                           "reference", "memo", "code", "reverses_id")}
    return LedgerEntryOut(amount=from_cents(entry.amount_cents), **data)


def order_out(order: ServiceOrder) -> ServiceOrderOut:
    data = {k: getattr(order, k) for k in ("id", "kind", "status", "account_id", "premise_id",
                                           "requested_for", "details", "created_at")}
    return ServiceOrderOut(fee=from_cents(order.fee_cents), **data)
