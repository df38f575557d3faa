"""Payment-arrangement rules as data: the bot offers only what this says, never its own terms.

Decisions documented here (per utility, change the dataclass):
- A cash-only account (repeated returned payments) may still get an arrangement: cash-only limits
  how it pays, not whether it may spread a debt; its installments must be paid in good funds.
- An account in bankruptcy gets no arrangement: its pre-petition debt is frozen by the court.
- A final or closed account gets none: with no ongoing service, its debt goes to final-bill
  collection instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from core.money import from_cents, round_cents, to_cents


@dataclass(frozen=True, slots=True)
class ArrangementPolicy:
    """One utility's arrangement terms; defaults are DOMAIN.md's numbers."""

    summer_down_payment: Decimal = Decimal("0.25")  # April–November
    winter_down_payment: Decimal = Decimal("0.10")  # December–March (shut-off season)
    winter_months: frozenset[int] = frozenset({12, 1, 2, 3})
    energy_assistance_down_payment: Decimal = Decimal("0.20")
    min_amount: Decimal = Decimal("25.00")
    max_amount: Decimal = Decimal("5000.00")
    broken_lookback_days: int = 365
    # (financed amount up to, most installments): small debts get short plans.
    installment_tiers: tuple[tuple[Decimal, int], ...] = (
        (Decimal("100.00"), 2),
        (Decimal("300.00"), 3),
        (Decimal("1000.00"), 4),
    )
    max_installments: int = 6
    min_installments: int = 2
    min_installment_amount: Decimal = Decimal("20.00")
    installment_interval_days: int = 30
    allow_cash_only: bool = True


DEFAULT_ARRANGEMENT_POLICY = ArrangementPolicy()


@dataclass(frozen=True, slots=True)
class ArrangementFacts:
    """What the policy needs to know about an account, gathered by the service."""

    past_due_cents: int
    today: date
    in_active_arrangement: bool = False
    last_broken_on: date | None = None
    cash_only: bool = False
    energy_assistance: bool = False
    in_bankruptcy: bool = False
    account_status: str = "active"


@dataclass(frozen=True, slots=True)
class ArrangementOffer:
    total_cents: int
    down_payment_cents: int
    min_installments: int
    max_installments: int
    down_payment_rate: Decimal
    first_installment_on: date
    interval_days: int

    @property
    def financed_cents(self) -> int:
        return self.total_cents - self.down_payment_cents

    @property
    def eligible(self) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class ArrangementRefusal:
    reason: str
    code: str

    @property
    def eligible(self) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class ScheduledInstallment:
    seq: int  # 0 is the down payment
    due_on: date
    amount_cents: int


def down_payment_rate(
    *, today: date, energy_assistance: bool, policy: ArrangementPolicy = DEFAULT_ARRANGEMENT_POLICY
) -> Decimal:
    """The season sets the rate; energy assistance lowers it, never raises it."""
    seasonal = (
        policy.winter_down_payment if today.month in policy.winter_months
        else policy.summer_down_payment
    )
    if energy_assistance:
        return min(seasonal, policy.energy_assistance_down_payment)
    return seasonal


def most_installments(financed_cents: int, policy: ArrangementPolicy) -> int:
    """The tier cap, lowered so no installment falls below the minimum amount."""
    financed = from_cents(financed_cents)
    tier_cap = policy.max_installments
    for ceiling, cap in policy.installment_tiers:
        if financed <= ceiling:
            tier_cap = cap
            break
    by_minimum = financed_cents // max(to_cents(policy.min_installment_amount), 1)
    return max(1, min(tier_cap, by_minimum))


def evaluate_arrangement(
    facts: ArrangementFacts, policy: ArrangementPolicy = DEFAULT_ARRANGEMENT_POLICY
) -> ArrangementOffer | ArrangementRefusal:
    """An offer with its terms, or a refusal whose reason a customer can read."""
    if facts.account_status in {"final", "closed"}:
        return ArrangementRefusal(
            "This account is closed; a final-bill balance cannot be put on an arrangement.",
            "account_closed",
        )
    if facts.in_bankruptcy:
        return ArrangementRefusal(
            "This account is in a bankruptcy case, so its past-due debt is handled by the court.",
            "bankruptcy",
        )
    if facts.cash_only and not policy.allow_cash_only:
        return ArrangementRefusal("Cash-only accounts cannot get an arrangement.", "cash_only")
    if facts.in_active_arrangement:
        return ArrangementRefusal("This account already has an active payment arrangement.",
                                  "already_in_arrangement")
    if facts.past_due_cents <= 0:
        return ArrangementRefusal("There is no past-due amount to arrange.", "nothing_past_due")
    if facts.last_broken_on is not None and (
        facts.today - facts.last_broken_on < timedelta(days=policy.broken_lookback_days)
    ):
        return ArrangementRefusal(
            "An arrangement on this account was broken in the last 12 months.",
            "recently_broken",
        )
    if facts.past_due_cents < to_cents(policy.min_amount):
        return ArrangementRefusal(
            f"The past-due amount is under ${policy.min_amount}; please pay it in full.",
            "below_minimum",
        )
    if facts.past_due_cents > to_cents(policy.max_amount):
        return ArrangementRefusal(
            f"The past-due amount is over ${policy.max_amount}; a specialist must review it.",
            "above_maximum",
        )
    rate = down_payment_rate(today=facts.today, energy_assistance=facts.energy_assistance,
                             policy=policy)
    down = to_cents(round_cents(from_cents(facts.past_due_cents) * rate))
    most = most_installments(facts.past_due_cents - down, policy)
    return ArrangementOffer(
        total_cents=facts.past_due_cents,
        down_payment_cents=down,
        min_installments=min(policy.min_installments, most),
        max_installments=most,
        down_payment_rate=rate,
        first_installment_on=facts.today + timedelta(days=policy.installment_interval_days),
        interval_days=policy.installment_interval_days,
    )


def installment_schedule(
    offer: ArrangementOffer, *, installments: int, today: date
) -> list[ScheduledInstallment]:
    """Down payment today, then equal installments; leftover cents go on the earliest ones."""
    if not offer.min_installments <= installments <= offer.max_installments:
        raise ValueError(
            f"installments must be between {offer.min_installments} and {offer.max_installments}"
        )
    schedule = [ScheduledInstallment(0, today, offer.down_payment_cents)]
    base, extra = divmod(offer.financed_cents, installments)
    for seq in range(1, installments + 1):
        schedule.append(ScheduledInstallment(
            seq,
            offer.first_installment_on + timedelta(days=offer.interval_days * (seq - 1)),
            base + (1 if seq <= extra else 0),
        ))
    return schedule

