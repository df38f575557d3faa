"""One account's year: bills, payments (on time, late, partial, missing), fees, NSF returns and
arrangements, written as ledger entries whose sum is the balance the rest of Stormdesk derives.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from core.arrangements.policy import DEFAULT_ARRANGEMENT_POLICY
from core.billing.policy import DEFAULT_BILLING_POLICY, Aging, AgingItem, age_balance
from core.billing.repository import STANDALONE_DEBITS, STANDALONE_DUE_DAYS
from core.money import to_cents

LATE_FEE_MIN_CENTS = 500
LATE_FEE_RATE = 0.015
NSF_FEE_CENTS = to_cents(DEFAULT_BILLING_POLICY.nsf_fee)
DUE_DAYS = 21

# How an account pays. Shares are of all accounts; the rest pay on time.
BEHAVIOR_SHARES = (("late", 0.07), ("past_due", 0.065), ("arrangement", 0.03), ("broken", 0.01))


@dataclass
class BillDraft:
    period_start: date
    period_end: date
    issued_on: date
    due_on: date
    amount: int = 0


@dataclass
class EntryDraft:
    kind: str
    amount: int
    posted_at: datetime
    bill_index: int | None = None
    method: str | None = None
    memo: str | None = None
    reverses: int | None = None  # index of the entry this one reverses
    code: str | None = None  # why it exists, for rules that count entries (nsf_return, …)
    fee_for: int | None = None  # the bill a late fee was charged on


@dataclass
class ArrangementDraft:
    status: str
    total: int
    down: int
    created_on: date
    ended_on: date | None
    installments: list[tuple[date, int, int]]  # (due_on, amount, paid); index 0 is the down payment


@dataclass
class History:
    entries: list[EntryDraft] = field(default_factory=list)
    arrangement: ArrangementDraft | None = None

    @property
    def balance(self) -> int:
        return sum(e.amount for e in self.entries)


def draw_behavior(rng: random.Random) -> str:
    roll = rng.random()
    for behavior, share in BEHAVIOR_SHARES:
        if roll < share:
            return behavior
        roll -= share
    return "prompt"


def add_months(day: date, months: int, day_of_month: int | None = None) -> date:
    month_index = day.year * 12 + day.month - 1 + months
    year, month = divmod(month_index, 12)
    return date(year, month + 1, min(day_of_month or day.day, 28))


def billing_calendar(
    *, as_of: date, months: int, cycle_day: int, opened_on: date
) -> list[BillDraft]:
    """Monthly periods ending on the cycle day; the newest bill is issued on or before as_of."""
    last_end = date(as_of.year, as_of.month, cycle_day)
    if last_end >= as_of:
        last_end = add_months(last_end, -1, cycle_day)
    bills = []
    for back in range(months - 1, -1, -1):
        end = add_months(last_end, -back, cycle_day)
        start = add_months(end, -1, cycle_day) + timedelta(days=1)
        if start < opened_on:
            if end <= opened_on:
                continue
            start = opened_on
        issued = end + timedelta(days=1)
        bills.append(BillDraft(start, end, issued, issued + timedelta(days=DUE_DAYS)))
    return bills


def at(day: date, rng: random.Random, start_hour: int = 7, end_hour: int = 21) -> datetime:
    clock = time(rng.randint(start_hour, end_hour), rng.randrange(60), rng.randrange(60))
    return datetime.combine(day, clock, tzinfo=UTC)


class LedgerWriter:
    """Builds one account's entries; behaviors decide which bills get paid, when and how much."""

    def __init__(self, rng: random.Random, *, bills: list[BillDraft], as_of: date, method: str):
        self.rng = rng
        self.bills = bills
        self.as_of = as_of
        self.method = method
        self.history = History()

    def charge_all(self) -> None:
        for index, bill in enumerate(self.bills):
            posted = datetime.combine(bill.issued_on, time(12), tzinfo=UTC)
            self.add(EntryDraft("charge", bill.amount, posted, bill_index=index, memo="monthly bill"))

    def add(self, entry: EntryDraft) -> int:
        if entry.posted_at.date() > self.as_of:
            return -1
        self.history.entries.append(entry)
        return len(self.history.entries) - 1

    def pay(self, day: date, cents: int, memo: str | None = None, method: str | None = None) -> int:
        if cents <= 0:
            return -1
        when = at(day, self.rng)
        return self.add(EntryDraft("payment", -cents, when, method=method or self.method, memo=memo))

    def late_fee(self, index: int, unpaid: int) -> None:
        fee = max(LATE_FEE_MIN_CENTS, round(unpaid * LATE_FEE_RATE))
        posted = datetime.combine(self.bills[index].due_on + timedelta(days=1), time(5), tzinfo=UTC)
        # Not tied to the bill: aging sees it as its own debit, as for fees the services post.
        self.add(EntryDraft("fee", fee, posted, memo="late payment charge", code="late_fee",
                            fee_for=index))

    def pay_on_time(self, index: int) -> None:
        bill = self.bills[index]
        self.pay(bill.issued_on + timedelta(days=self.rng.randint(2, DUE_DAYS - 1)), bill.amount)

    def pay_late(self, index: int) -> None:
        bill = self.bills[index]
        self.late_fee(index, bill.amount)
        self.pay(bill.due_on + timedelta(days=self.rng.randint(3, 24)), bill.amount)

    def leave_unpaid(self, index: int, partial: bool) -> None:
        bill = self.bills[index]
        paid = round(bill.amount * self.rng.uniform(0.25, 0.6)) if partial else 0
        if paid:
            self.pay(bill.due_on - timedelta(days=self.rng.randint(0, 6)), paid)
        if bill.due_on < self.as_of:
            self.late_fee(index, bill.amount - paid)

    def debt_of(self, indexes: list[int]) -> int:
        """Charges and late fees of these bills not yet paid (all of them, for unpaid bills)."""
        return sum(
            e.amount for e in self.history.entries
            if (e.kind == "charge" and e.bill_index in indexes) or e.fee_for in indexes
        )

    def arrangement(
        self, *, created_on: date, total: int, count: int, pays_installments: int | None
    ) -> ArrangementDraft:
        """Down payment now, the rest monthly; stops paying after `pays_installments` when broken."""
        policy = DEFAULT_ARRANGEMENT_POLICY
        winter = created_on.month in policy.winter_months
        down_share = policy.winter_down_payment if winter else policy.summer_down_payment
        down = round(total * float(down_share))
        rest = total - down
        each, remainder = divmod(rest, count)
        plan = [(created_on, down)] + [
            (add_months(created_on, n, created_on.day), each + (remainder if n == count else 0))
            for n in range(1, count + 1)
        ]
        installments = []
        ended_on: date | None = None
        for seq, (due, amount) in enumerate(plan):
            paid = 0
            broken_here = pays_installments is not None and seq > pays_installments
            if due <= self.as_of and not broken_here:
                paid = amount
                day = max(created_on, due - timedelta(days=self.rng.randint(0, 5)))
                self.pay(day, amount, memo="arrangement down payment" if seq == 0
                         else f"arrangement installment {seq}")
            if broken_here and ended_on is None and due + timedelta(days=10) <= self.as_of:
                ended_on = due + timedelta(days=10)
            installments.append((due, amount, paid))
        if ended_on is not None:
            status = "broken"
        elif all(paid == amount for _, amount, paid in installments):
            status, ended_on = "completed", plan[-1][0]
        else:
            status = "active"
        return ArrangementDraft(status, total, down, created_on, ended_on, installments)

    def returned_payment(self, payment_index: int) -> None:
        """NSF: reverse the payment, add the fee, and the customer pays both again a week later."""
        payment = self.history.entries[payment_index]
        returned_on = payment.posted_at + timedelta(days=3)
        reversal = EntryDraft("reversal", -payment.amount, returned_on, reverses=payment_index,
                              method=payment.method, memo="returned payment: NSF",
                              code="nsf_return")
        if self.add(reversal) < 0:
            return
        self.add(EntryDraft("fee", NSF_FEE_CENTS, returned_on, memo="returned payment fee",
                            code="nsf_fee"))
        self.pay(returned_on.date() + timedelta(days=self.rng.randint(4, 9)),
                 -payment.amount + NSF_FEE_CENTS, memo="payment after returned payment",
                 method="cash")


def simulate(
    rng: random.Random,
    *,
    bills: list[BillDraft],
    as_of: date,
    behavior: str,
    method: str,
    nsf_returns: int = 0,
    unpaid_bills: int | None = None,
    fresh_bill: bool = False,
) -> History:
    """Writes the ledger for one account; falls back to paying on time when history is too short."""
    writer = LedgerWriter(rng, bills=bills, as_of=as_of, method=method)
    writer.charge_all()
    due = [i for i, bill in enumerate(bills) if bill.due_on < as_of]
    handled: set[int] = set()

    if behavior == "past_due" and due:
        count = min(len(due), unpaid_bills or rng.choice((1, 1, 2, 2, 3)))
        for index in due[-count:]:
            writer.leave_unpaid(index, partial=unpaid_bills is None and rng.random() < 0.35)
            handled.add(index)
        handled.update(i for i in range(len(bills)) if i not in due)  # stopped paying
    elif behavior in ("arrangement", "broken"):
        handled |= _arranged(writer, rng, due=due, broken=behavior == "broken")

    for index, bill in enumerate(bills):
        if index in handled:
            continue
        if fresh_bill and index == len(bills) - 1:
            continue
        if behavior == "late" and rng.random() < 0.3:
            writer.pay_late(index)
        else:
            writer.pay_on_time(index)

    payments = [i for i, e in enumerate(writer.history.entries)
                if e.kind == "payment" and e.memo is None and e.method != "cash"]
    for payment_index in rng.sample(payments, min(nsf_returns, len(payments))):
        writer.returned_payment(payment_index)
    return writer.history


def _arranged(
    writer: LedgerWriter, rng: random.Random, *, due: list[int], broken: bool
) -> set[int]:
    """Two missed bills become an arrangement; a broken one also leaves later bills unpaid."""
    as_of = writer.as_of
    count = rng.randint(4, 6) if broken else rng.randint(3, 6)
    days_ago = rng.randint(150, 260) if broken else rng.randint(20, 30 * (count - 1))
    created_on = as_of - timedelta(days=days_ago)
    missed = [i for i in due if writer.bills[i].due_on + timedelta(days=5) <= created_on][-2:]
    if len(missed) < 2:
        return set()
    for index in missed:
        writer.leave_unpaid(index, partial=False)
    handled = set(missed)
    total = writer.debt_of(missed)
    pays = rng.randint(0, 2) if broken else None
    writer.history.arrangement = writer.arrangement(
        created_on=created_on, total=total, count=count, pays_installments=pays
    )
    ended = writer.history.arrangement.ended_on
    if broken and ended is not None:
        for index, bill in enumerate(writer.bills):
            if bill.issued_on > ended - timedelta(days=25) and rng.random() < 0.6:
                writer.leave_unpaid(index, partial=rng.random() < 0.3)
                handled.add(index)
    return handled


def aging(history: History, bills: list[BillDraft], as_of: date) -> Aging:
    """The account's aging exactly as the billing service computes it from these rows."""
    items = [AgingItem(b.issued_on, b.due_on, b.amount) for b in bills if b.issued_on <= as_of]
    for entry in history.entries:
        if entry.bill_index is None and entry.amount > 0 and entry.kind in STANDALONE_DEBITS:
            day = entry.posted_at.date()
            items.append(AgingItem(day, day + timedelta(days=STANDALONE_DUE_DAYS), entry.amount))
    return age_balance(balance_cents=history.balance, items=items, today=as_of)
