"""Billing rules: returned-payment fees, cash-only, re-read fees, leak credits, proration, aging."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from core.money import round_cents, to_cents


@dataclass(frozen=True, slots=True)
class BillingPolicy:
    """One utility's fees and thresholds."""

    nsf_fee: Decimal = Decimal("30.00")
    # The Nth returned payment inside the window makes the account cash-only.
    cash_only_after_returns: int = 2
    returns_window_days: int = 365
    reread_fee: Decimal = Decimal("25.00")
    reread_window_days: int = 365
    # Share of a leak month's excess over the usual bill credited back.
    leak_credit_share: Decimal = Decimal("0.50")
    # Aging buckets by days since the bill was issued: <30 current, 30–59, 60–89, 90+.
    aging_edges: tuple[int, int, int] = (30, 60, 90)


DEFAULT_BILLING_POLICY = BillingPolicy()


@dataclass(frozen=True, slots=True)
class ReturnedPaymentOutcome:
    fee_cents: int
    make_cash_only: bool


def returned_payment_outcome(
    *, returns_in_window: int, policy: BillingPolicy = DEFAULT_BILLING_POLICY
) -> ReturnedPaymentOutcome:
    """`returns_in_window` counts this return too."""
    return ReturnedPaymentOutcome(
        fee_cents=to_cents(policy.nsf_fee),
        make_cash_only=returns_in_window >= policy.cash_only_after_returns,
    )


def reread_fee_cents(
    *, misread: bool, prior_rereads_in_window: int, policy: BillingPolicy = DEFAULT_BILLING_POLICY
) -> int:
    """No fee when the meter was misread, or for the first re-read in the window."""
    if misread or prior_rereads_in_window == 0:
        return 0
    return to_cents(policy.reread_fee)


def leak_credit_cents(
    *, leak_bill_cents: int, usual_bill_cents: int, policy: BillingPolicy = DEFAULT_BILLING_POLICY
) -> int:
    """Credit back a share of what the leak month cost above the customer's usual month."""
    excess = max(0, leak_bill_cents - usual_bill_cents)
    return to_cents(round_cents(Decimal(excess) * policy.leak_credit_share / 100))


def prorate_cents(*, period_cents: int, period_days: int, days_used: int) -> int:
    """A final bill for part of a period, by days of service."""
    if period_days <= 0:
        raise ValueError("period_days must be positive")
    days_used = max(0, min(days_used, period_days))
    return to_cents(round_cents(Decimal(period_cents) * days_used / period_days / 100))


@dataclass(frozen=True, slots=True)
class AgingItem:
    """Something the customer was charged: a bill, or a fee posted outside a bill."""

    issued_on: date
    due_on: date
    amount_cents: int


@dataclass(frozen=True, slots=True)
class Aging:
    current_cents: int = 0
    days_30_cents: int = 0
    days_60_cents: int = 0
    days_90_plus_cents: int = 0
    past_due_cents: int = 0
    oldest_past_due_on: date | None = None

    @property
    def total_cents(self) -> int:
        return self.current_cents + self.days_30_cents + self.days_60_cents + self.days_90_plus_cents


def age_balance(
    *,
    balance_cents: int,
    items: Sequence[AgingItem],
    today: date,
    policy: BillingPolicy = DEFAULT_BILLING_POLICY,
) -> Aging:
    """Payments pay the oldest debt first, so what is still owed sits on the newest charges.

    A credit balance ages to nothing. Debt older than every known charge counts as 90+ and
    past due.
    """
    if balance_cents <= 0:
        return Aging()
    buckets = [0, 0, 0, 0]
    past_due = 0
    oldest_past_due: date | None = None
    remaining = balance_cents
    for item in sorted(items, key=lambda i: (i.issued_on, i.due_on), reverse=True):
        if remaining <= 0:
            break
        if item.amount_cents <= 0:
            continue
        share = min(remaining, item.amount_cents)
        remaining -= share
        buckets[_bucket((today - item.issued_on).days, policy.aging_edges)] += share
        if item.due_on < today:
            past_due += share
            oldest_past_due = item.due_on
    if remaining > 0:
        buckets[3] += remaining
        past_due += remaining
        oldest_past_due = min((i.due_on for i in items), default=today)
    return Aging(buckets[0], buckets[1], buckets[2], buckets[3], past_due, oldest_past_due)


def _bucket(age_days: int, edges: tuple[int, int, int]) -> int:
    for index, edge in enumerate(edges):
        if age_days < edge:
            return index
    return 3
