"""Collections rules: when an account moves late notice → disconnect notice → disconnect list.

Holds stop the march: a medical certificate, a bankruptcy filing (the automatic stay), an active
payment arrangement. Paying below the minimum past-due amount cures the account back to none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from core.money import to_cents

STAGES = ("none", "late_notice", "disconnect_notice", "disconnect_list")
# Set by hand, never by the automatic march.
MANUAL_STAGES = ("agency", "written_off")


@dataclass(frozen=True, slots=True)
class CollectionsPolicy:
    """One utility's collection timing; defaults are typical of state commission rules."""

    min_past_due: Decimal = Decimal("25.00")
    late_notice_after_days: int = 5  # days past due
    disconnect_notice_after_days: int = 10  # days after the late notice
    disconnect_list_after_days: int = 10  # days after the disconnect notice (notice period)
    # Bankruptcy Code §366: adequate assurance of payment within 20 days, 30 for chapter 11.
    adequate_assurance_days: int = 20
    adequate_assurance_days_chapter_11: int = 30


DEFAULT_COLLECTIONS_POLICY = CollectionsPolicy()


@dataclass(frozen=True, slots=True)
class CollectionFacts:
    stage: str
    stage_since: date | None
    past_due_cents: int
    oldest_past_due_on: date | None
    today: date
    medical_hold_until: date | None = None
    bankruptcy_filed_on: date | None = None
    in_active_arrangement: bool = False


@dataclass(frozen=True, slots=True)
class CollectionStep:
    stage: str
    changed: bool
    reason: str
    hold: str | None = None  # medical | bankruptcy | arrangement


def collection_hold(facts: CollectionFacts) -> str | None:
    if facts.bankruptcy_filed_on is not None:
        return "bankruptcy"
    if facts.medical_hold_until is not None and facts.medical_hold_until >= facts.today:
        return "medical"
    if facts.in_active_arrangement:
        return "arrangement"
    return None


def next_collection_step(
    facts: CollectionFacts, policy: CollectionsPolicy = DEFAULT_COLLECTIONS_POLICY
) -> CollectionStep:
    """At most one step per call, so every notice period is actually served."""
    if facts.stage in MANUAL_STAGES:
        return CollectionStep(facts.stage, False, "set by hand")
    if facts.past_due_cents < to_cents(policy.min_past_due):
        if facts.stage != "none":
            return CollectionStep("none", True, "past-due amount paid below the minimum")
        return CollectionStep("none", False, "nothing to collect")
    hold = collection_hold(facts)
    if hold is not None:
        return CollectionStep(facts.stage, False, f"collection held: {hold}", hold)
    since = facts.stage_since or facts.today
    if facts.stage == "none":
        overdue = facts.oldest_past_due_on
        if overdue is not None and facts.today - overdue >= timedelta(
            days=policy.late_notice_after_days
        ):
            return CollectionStep("late_notice", True, "past due beyond the grace period")
        return CollectionStep("none", False, "inside the grace period")
    if facts.stage == "late_notice":
        if facts.today - since >= timedelta(days=policy.disconnect_notice_after_days):
            return CollectionStep("disconnect_notice", True, "late notice unanswered")
        return CollectionStep("late_notice", False, "late-notice period running")
    if facts.stage == "disconnect_notice":
        if facts.today - since >= timedelta(days=policy.disconnect_list_after_days):
            return CollectionStep("disconnect_list", True, "disconnect notice period served")
        return CollectionStep("disconnect_notice", False, "disconnect-notice period running")
    return CollectionStep(facts.stage, False, "on the disconnect list")


@dataclass(frozen=True, slots=True)
class DisconnectCandidate:
    account_id: int
    amount_due_cents: int
    last_payment_on: date | None
    broken_arrangements: int


def disconnect_order(candidates: Sequence[DisconnectCandidate]) -> list[DisconnectCandidate]:
    """Work the list: most owed first, then longest since a payment, then most broken promises."""
    return sorted(
        candidates,
        key=lambda c: (
            -c.amount_due_cents,
            c.last_payment_on or date.min,
            -c.broken_arrangements,
            c.account_id,
        ),
    )


def adequate_assurance_due(
    *, filed_on: date, chapter: int | None, policy: CollectionsPolicy = DEFAULT_COLLECTIONS_POLICY
) -> date:
    days = (
        policy.adequate_assurance_days_chapter_11 if chapter == 11
        else policy.adequate_assurance_days
    )
    return filed_on + timedelta(days=days)
