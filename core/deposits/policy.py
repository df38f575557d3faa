"""Security-deposit rules: how much a new account must put down, and when it comes back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from types import MappingProxyType

from core.money import round_cents, to_cents


def _frozen(values: dict[str, Decimal]) -> Mapping[str, Decimal]:
    return MappingProxyType(values)


@dataclass(frozen=True, slots=True)
class DepositPolicy:
    """One utility's deposit terms; the defaults follow common US tariffs."""

    commercial_multiple: Decimal = Decimal(2)
    # Residential: by credit history; no history counts as one month.
    residential_multiple_by_rating: Mapping[str, Decimal] = field(
        default_factory=lambda: _frozen({
            "good": Decimal(0), "fair": Decimal(1), "poor": Decimal(2), "none": Decimal(1),
        })
    )
    history_months: int = 12
    # Used when neither the account nor the premise has any billing history.
    estimated_monthly_bill: Mapping[str, Decimal] = field(
        default_factory=lambda: _frozen({
            "residential": Decimal("150.00"), "commercial": Decimal("400.00"),
        })
    )
    due_days: int = 30
    residential_refund_after_months: int = 12
    commercial_refund_after_months: int = 24


DEFAULT_DEPOSIT_POLICY = DepositPolicy()


@dataclass(frozen=True, slots=True)
class BilledMonth:
    issued_on: date
    amount_cents: int


@dataclass(frozen=True, slots=True)
class DepositRequirement:
    required_cents: int
    monthly_basis_cents: int
    basis: str  # account_history | premise_history | estimate
    reason: str


def add_months(day: date, months: int) -> date:
    """Same day of month N months later, clamped to the month's end (Jan 31 + 1 → Feb 28)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    for candidate in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def average_monthly_cents(
    bills: Sequence[BilledMonth], *, today: date, months: int = 12
) -> int | None:
    """Average of the bills issued in the last `months` months; None when there are none."""
    since = add_months(today, -months)
    recent = [b.amount_cents for b in bills if since < b.issued_on <= today]
    if not recent:
        return None
    return to_cents(round_cents(Decimal(sum(recent)) / len(recent) / 100))


def required_deposit(
    *,
    account_kind: str,
    credit_rating: str,
    account_bills: Sequence[BilledMonth],
    premise_bills: Sequence[BilledMonth] = (),
    today: date,
    policy: DepositPolicy = DEFAULT_DEPOSIT_POLICY,
) -> DepositRequirement:
    """Commercial: 2× the average month; residential: by credit rating. History, else estimate."""
    monthly = average_monthly_cents(account_bills, today=today, months=policy.history_months)
    basis = "account_history"
    if monthly is None:
        monthly = average_monthly_cents(premise_bills, today=today, months=policy.history_months)
        basis = "premise_history"
    if monthly is None:
        estimate = policy.estimated_monthly_bill.get(
            account_kind, policy.estimated_monthly_bill["residential"]
        )
        monthly = to_cents(estimate)
        basis = "estimate"
    if account_kind == "commercial":
        multiple = policy.commercial_multiple
        reason = f"commercial account: {multiple}× the average monthly bill ({basis})"
    else:
        multiple = policy.residential_multiple_by_rating.get(
            credit_rating, policy.residential_multiple_by_rating["none"]
        )
        reason = f"residential, credit rating {credit_rating}: {multiple}× monthly bill ({basis})"
    required = to_cents(round_cents(Decimal(monthly) * multiple / 100))
    return DepositRequirement(required, monthly, basis, reason)


def refund_review_on(
    *, account_kind: str, held_since: date, policy: DepositPolicy = DEFAULT_DEPOSIT_POLICY
) -> date:
    months = (
        policy.commercial_refund_after_months if account_kind == "commercial"
        else policy.residential_refund_after_months
    )
    return add_months(held_since, months)


def refund_due(
    *,
    account_kind: str,
    held_since: date,
    last_delinquency_on: date | None,
    today: date,
    policy: DepositPolicy = DEFAULT_DEPOSIT_POLICY,
) -> bool:
    """Refund after N months held with N months of good payment (no late notice, no return)."""
    review = refund_review_on(account_kind=account_kind, held_since=held_since, policy=policy)
    if today < review:
        return False
    if last_delinquency_on is None:
        return True
    months = (
        policy.commercial_refund_after_months if account_kind == "commercial"
        else policy.residential_refund_after_months
    )
    return add_months(last_delinquency_on, months) <= today
