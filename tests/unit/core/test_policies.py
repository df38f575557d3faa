"""Every policy rule at its edges; hypothesis for the sums that must be exact to the cent."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.accounts.policy import (
    CollectionFacts,
    DisconnectCandidate,
    adequate_assurance_due,
    disconnect_order,
    next_collection_step,
)
from core.adjustments.policy import (
    AdjustmentDecision,
    AdjustmentLimits,
    approval_refusal,
    decide_adjustment,
)
from core.arrangements.policy import (
    ArrangementFacts,
    ArrangementOffer,
    ArrangementPolicy,
    ArrangementRefusal,
    down_payment_rate,
    evaluate_arrangement,
    installment_schedule,
)
from core.billing.policy import (
    AgingItem,
    age_balance,
    leak_credit_cents,
    prorate_cents,
    reread_fee_cents,
    returned_payment_outcome,
)
from core.config import Settings
from core.deposits.policy import (
    BilledMonth,
    add_months,
    average_monthly_cents,
    refund_due,
    required_deposit,
)
from core.enums import Role

JULY = date(2026, 7, 15)
JANUARY = date(2026, 1, 15)


def offer(facts: ArrangementFacts, policy: ArrangementPolicy | None = None) -> ArrangementOffer:
    result = evaluate_arrangement(facts, policy or ArrangementPolicy())
    assert isinstance(result, ArrangementOffer), result
    return result


def refusal(facts: ArrangementFacts) -> ArrangementRefusal:
    result = evaluate_arrangement(facts)
    assert isinstance(result, ArrangementRefusal), result
    return result


# --- arrangements -------------------------------------------------------------------------------

@pytest.mark.parametrize(("day", "assisted", "rate"), [
    (date(2026, 3, 31), False, Decimal("0.10")),  # last winter day
    (date(2026, 4, 1), False, Decimal("0.25")),  # first summer day
    (date(2026, 11, 30), False, Decimal("0.25")),
    (date(2026, 12, 1), False, Decimal("0.10")),
    (JULY, True, Decimal("0.20")),  # assistance lowers the summer rate
    (JANUARY, True, Decimal("0.10")),  # ...but never raises the winter one
])
def test_down_payment_rate_by_season_and_assistance(day: date, assisted: bool, rate: Decimal) -> None:
    assert down_payment_rate(today=day, energy_assistance=assisted) == rate


def test_offer_has_down_payment_and_installment_range() -> None:
    made = offer(ArrangementFacts(past_due_cents=40_000, today=JULY))
    assert made.down_payment_cents == 10_000
    assert (made.min_installments, made.max_installments) == (2, 3)  # financed 300.00
    assert made.first_installment_on == JULY + timedelta(days=30)


def test_down_payment_rounds_half_up_to_the_cent() -> None:
    made = offer(ArrangementFacts(past_due_cents=10_002, today=JULY))  # 25% of 100.02 = 25.005
    assert made.down_payment_cents == 2_501


@pytest.mark.parametrize(("financed_total", "most"), [
    (13_333, 2),  # financed 100.00 → tier of 2
    (13_335, 3),  # down 33.34 (half up), financed 100.01 → next tier
    (133_333, 4),  # financed 1000.00 (25% down on 1333.33 rounds to 333.33)
    (400_000, 6),
])
def test_installment_tiers(financed_total: int, most: int) -> None:
    assert offer(ArrangementFacts(past_due_cents=financed_total, today=JULY)).max_installments == most


def test_small_debt_gets_fewer_installments_so_none_is_tiny() -> None:
    made = offer(ArrangementFacts(past_due_cents=3_000, today=JULY))  # financed 22.50
    assert made.max_installments == 1 and made.min_installments == 1


@pytest.mark.parametrize(("facts", "code"), [
    (ArrangementFacts(past_due_cents=0, today=JULY), "nothing_past_due"),
    (ArrangementFacts(past_due_cents=2_499, today=JULY), "below_minimum"),
    (ArrangementFacts(past_due_cents=500_001, today=JULY), "above_maximum"),
    (ArrangementFacts(past_due_cents=10_000, today=JULY, in_active_arrangement=True),
     "already_in_arrangement"),
    (ArrangementFacts(past_due_cents=10_000, today=JULY, last_broken_on=JULY - timedelta(days=364)),
     "recently_broken"),
    (ArrangementFacts(past_due_cents=10_000, today=JULY, in_bankruptcy=True), "bankruptcy"),
    (ArrangementFacts(past_due_cents=10_000, today=JULY, account_status="final"),
     "account_closed"),
])
def test_refusals_carry_a_readable_reason(facts: ArrangementFacts, code: str) -> None:
    refused = refusal(facts)
    assert refused.code == code
    assert refused.reason and refused.reason[0].isupper()


def test_limits_are_inclusive_and_broken_ages_out_after_a_year() -> None:
    offer(ArrangementFacts(past_due_cents=2_500, today=JULY))
    offer(ArrangementFacts(past_due_cents=500_000, today=JULY))
    offer(ArrangementFacts(past_due_cents=10_000, today=JULY,
                           last_broken_on=JULY - timedelta(days=365)))


def test_cash_only_is_eligible_by_default_and_configurable() -> None:
    facts = ArrangementFacts(past_due_cents=10_000, today=JULY, cash_only=True)
    offer(facts)
    strict = evaluate_arrangement(facts, ArrangementPolicy(allow_cash_only=False))
    assert isinstance(strict, ArrangementRefusal) and strict.code == "cash_only"


def test_schedule_refuses_a_count_outside_the_offer() -> None:
    made = offer(ArrangementFacts(past_due_cents=40_000, today=JULY))
    with pytest.raises(ValueError, match="between 2 and 3"):
        installment_schedule(made, installments=4, today=JULY)


@given(
    cents=st.integers(min_value=2_500, max_value=500_000),
    day=st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31)),
    assisted=st.booleans(),
    pick=st.integers(min_value=0, max_value=10),
)
def test_schedule_always_sums_exactly_to_the_total(
    cents: int, day: date, assisted: bool, pick: int
) -> None:
    made = offer(ArrangementFacts(past_due_cents=cents, today=day, energy_assistance=assisted))
    count = made.min_installments + pick % (made.max_installments - made.min_installments + 1)
    schedule = installment_schedule(made, installments=count, today=day)
    assert sum(s.amount_cents for s in schedule) == cents
    assert schedule[0].seq == 0 and schedule[0].amount_cents == made.down_payment_cents
    amounts = [s.amount_cents for s in schedule[1:]]
    assert len(amounts) == count and max(amounts) - min(amounts) <= 1
    assert [s.due_on for s in schedule] == sorted(s.due_on for s in schedule)


# --- deposits -----------------------------------------------------------------------------------

def months(*amounts: int, last: date = JULY) -> list[BilledMonth]:
    return [BilledMonth(add_months(last, -i), a) for i, a in enumerate(amounts)]


def test_commercial_deposit_is_twice_the_average_month() -> None:
    need = required_deposit(account_kind="commercial", credit_rating="good",
                            account_bills=months(30_000, 50_000), today=JULY)
    assert (need.required_cents, need.basis) == (80_000, "account_history")


def test_bills_older_than_twelve_months_do_not_count() -> None:
    bills = months(*([10_000] * 12), 99_999_00)  # the 13th month back is out
    assert average_monthly_cents(bills, today=JULY) == 10_000


def test_new_premise_falls_back_to_premise_history_then_estimate() -> None:
    from_premise = required_deposit(account_kind="commercial", credit_rating="none",
                                    account_bills=[], premise_bills=months(20_000), today=JULY)
    assert (from_premise.required_cents, from_premise.basis) == (40_000, "premise_history")
    estimate = required_deposit(account_kind="commercial", credit_rating="none",
                                account_bills=[], today=JULY)
    assert (estimate.required_cents, estimate.basis) == (80_000, "estimate")


@pytest.mark.parametrize(("rating", "cents"), [("good", 0), ("fair", 12_000), ("poor", 24_000),
                                               ("none", 12_000), ("unknown", 12_000)])
def test_residential_deposit_by_credit_rating(rating: str, cents: int) -> None:
    need = required_deposit(account_kind="residential", credit_rating=rating,
                            account_bills=months(12_000), today=JULY)
    assert need.required_cents == cents


def test_refund_after_twelve_good_months_residential_and_twentyfour_commercial() -> None:
    held = date(2025, 7, 15)
    assert refund_due(account_kind="residential", held_since=held, last_delinquency_on=None,
                      today=date(2026, 7, 15))
    assert not refund_due(account_kind="residential", held_since=held, last_delinquency_on=None,
                          today=date(2026, 7, 14))
    assert not refund_due(account_kind="residential", held_since=held,
                          last_delinquency_on=date(2026, 1, 1), today=date(2026, 7, 15))
    assert not refund_due(account_kind="commercial", held_since=held, last_delinquency_on=None,
                          today=date(2026, 7, 15))


def test_add_months_clamps_to_month_end() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2024, 3, 31), -1) == date(2024, 2, 29)
    assert add_months(date(2026, 12, 15), 1) == date(2027, 1, 15)


# --- billing ------------------------------------------------------------------------------------

def test_nsf_fee_always_and_cash_only_from_the_second_return() -> None:
    first = returned_payment_outcome(returns_in_window=1)
    second = returned_payment_outcome(returns_in_window=2)
    assert (first.fee_cents, first.make_cash_only) == (3_000, False)
    assert (second.fee_cents, second.make_cash_only) == (3_000, True)


@pytest.mark.parametrize(("misread", "prior", "fee"), [
    (False, 0, 0), (False, 1, 2_500), (True, 0, 0), (True, 3, 0),
])
def test_reread_fee(misread: bool, prior: int, fee: int) -> None:
    assert reread_fee_cents(misread=misread, prior_rereads_in_window=prior) == fee


def test_leak_credit_is_half_the_excess_and_never_negative() -> None:
    assert leak_credit_cents(leak_bill_cents=30_001, usual_bill_cents=10_000) == 10_001
    assert leak_credit_cents(leak_bill_cents=9_000, usual_bill_cents=10_000) == 0


def test_prorate_clamps_days() -> None:
    assert prorate_cents(period_cents=3_000, period_days=30, days_used=10) == 1_000
    assert prorate_cents(period_cents=3_000, period_days=30, days_used=-3) == 0
    assert prorate_cents(period_cents=3_000, period_days=30, days_used=45) == 3_000


def bill(days_ago: int, cents: int, due_in: int = 21) -> AgingItem:
    issued = JULY - timedelta(days=days_ago)
    return AgingItem(issued, issued + timedelta(days=due_in), cents)


def test_aging_allocates_the_balance_to_the_newest_bills_first() -> None:
    items = [bill(5, 10_000), bill(35, 10_000), bill(65, 10_000), bill(95, 10_000)]
    aged = age_balance(balance_cents=25_000, items=items, today=JULY)
    assert (aged.current_cents, aged.days_30_cents, aged.days_60_cents,
            aged.days_90_plus_cents) == (10_000, 10_000, 5_000, 0)
    assert aged.past_due_cents == 15_000  # the 5-day-old bill is not due yet
    assert aged.oldest_past_due_on == JULY - timedelta(days=65) + timedelta(days=21)


def test_aging_bucket_edges() -> None:
    for age, bucket in ((29, 0), (30, 1), (59, 1), (60, 2), (89, 2), (90, 3)):
        aged = age_balance(balance_cents=100, items=[bill(age, 100)], today=JULY)
        values = (aged.current_cents, aged.days_30_cents, aged.days_60_cents,
                  aged.days_90_plus_cents)
        assert values[bucket] == 100, (age, values)


def test_aging_due_today_is_not_past_due_and_a_credit_ages_to_nothing() -> None:
    assert age_balance(balance_cents=100, items=[bill(21, 100)], today=JULY).past_due_cents == 0
    assert age_balance(balance_cents=100, items=[bill(22, 100)], today=JULY).past_due_cents == 100
    assert age_balance(balance_cents=-500, items=[bill(1, 100)], today=JULY).total_cents == 0


def test_debt_older_than_every_known_charge_is_ninety_plus() -> None:
    aged = age_balance(balance_cents=15_000, items=[bill(5, 10_000)], today=JULY)
    assert aged.days_90_plus_cents == 5_000 and aged.past_due_cents == 5_000


@given(
    balance=st.integers(min_value=-100_000, max_value=2_000_000),
    items=st.lists(st.tuples(st.integers(0, 400), st.integers(1, 50_000)), max_size=20),
)
def test_aging_buckets_always_sum_to_the_balance(
    balance: int, items: list[tuple[int, int]]
) -> None:
    aged = age_balance(balance_cents=balance, items=[bill(d, c) for d, c in items], today=JULY)
    assert aged.total_cents == max(balance, 0)
    assert 0 <= aged.past_due_cents <= aged.total_cents
    assert min(aged.current_cents, aged.days_30_cents, aged.days_60_cents,
               aged.days_90_plus_cents) >= 0


# --- adjustments --------------------------------------------------------------------------------

LIMITS = AdjustmentLimits.from_settings(Settings(agent_adjustment_limit=Decimal("100.00"),
                                                 supervisor_adjustment_limit=Decimal("1000.00")))


@pytest.mark.parametrize(("role", "cents", "decision"), [
    (Role.AGENT, 10_000, AdjustmentDecision.POST),
    (Role.AGENT, -10_000, AdjustmentDecision.POST),  # a credit counts by its size
    (Role.AGENT, 10_001, AdjustmentDecision.REQUEST_APPROVAL),
    (Role.SUPERVISOR, 100_000, AdjustmentDecision.POST),
    (Role.SUPERVISOR, -100_001, AdjustmentDecision.REQUEST_APPROVAL),
    (Role.ADMIN, 10**12, AdjustmentDecision.POST),
    (Role.INTEGRATION, 1, AdjustmentDecision.FORBIDDEN),
    (Role.OPERATIONS, 1, AdjustmentDecision.FORBIDDEN),
    (Role.SYSTEM, 1, AdjustmentDecision.FORBIDDEN),
])
def test_adjustment_limits_by_role(role: Role, cents: int, decision: AdjustmentDecision) -> None:
    assert decide_adjustment(role=role, amount_cents=cents, limits=LIMITS) is decision


def test_limits_come_from_settings() -> None:
    tight = AdjustmentLimits.from_settings(Settings(agent_adjustment_limit=Decimal("5.00")))
    assert decide_adjustment(role=Role.AGENT, amount_cents=501,
                             limits=tight) is AdjustmentDecision.REQUEST_APPROVAL


def test_approval_needs_a_covering_limit_and_another_person() -> None:
    def refuse(name: str, role: Role, cents: int) -> str | None:
        return approval_refusal(approver=name, approver_role=role, requested_by="token:amy",
                                amount_cents=cents, limits=LIMITS)

    assert refuse("token:sue", Role.SUPERVISOR, 100_000) is None
    assert "limit" in (refuse("token:sue", Role.SUPERVISOR, 100_001) or "")
    assert refuse("token:root", Role.ADMIN, 100_001) is None
    assert "requested" in (refuse("token:amy", Role.ADMIN, 500) or "")
    assert refuse("token:bob", Role.AGENT, 10_000) is None
    assert "may not" in (refuse("token:ops", Role.OPERATIONS, 1) or "")


# --- collections --------------------------------------------------------------------------------

def facts(**overrides: object) -> CollectionFacts:
    base = {"stage": "none", "stage_since": None, "past_due_cents": 10_000,
            "oldest_past_due_on": JULY - timedelta(days=5), "today": JULY}
    base.update(overrides)
    return CollectionFacts(**base)  # type: ignore[arg-type]


def test_late_notice_after_the_grace_period() -> None:
    assert next_collection_step(facts()).stage == "late_notice"
    step = next_collection_step(facts(oldest_past_due_on=JULY - timedelta(days=4)))
    assert (step.stage, step.changed) == ("none", False)


@pytest.mark.parametrize(("stage", "days", "expected"), [
    ("late_notice", 9, "late_notice"), ("late_notice", 10, "disconnect_notice"),
    ("disconnect_notice", 9, "disconnect_notice"), ("disconnect_notice", 10, "disconnect_list"),
    ("disconnect_list", 100, "disconnect_list"),
])
def test_one_step_at_a_time_after_each_notice_period(stage: str, days: int, expected: str) -> None:
    step = next_collection_step(facts(stage=stage, stage_since=JULY - timedelta(days=days)))
    assert step.stage == expected


def test_paying_below_the_minimum_cures_the_account() -> None:
    step = next_collection_step(facts(stage="disconnect_notice", past_due_cents=2_499,
                                      stage_since=JULY))
    assert (step.stage, step.changed) == ("none", True)


@pytest.mark.parametrize(("overrides", "hold"), [
    ({"medical_hold_until": JULY}, "medical"),
    ({"bankruptcy_filed_on": JULY}, "bankruptcy"),
    ({"in_active_arrangement": True}, "arrangement"),
])
def test_holds_stop_the_march(overrides: dict[str, object], hold: str) -> None:
    step = next_collection_step(facts(stage="disconnect_notice",
                                      stage_since=JULY - timedelta(days=30), **overrides))
    assert (step.stage, step.changed, step.hold) == ("disconnect_notice", False, hold)


def test_expired_medical_certificate_no_longer_holds() -> None:
    step = next_collection_step(facts(medical_hold_until=JULY - timedelta(days=1)))
    assert step.stage == "late_notice" and step.hold is None


def test_manual_stages_are_left_alone() -> None:
    assert not next_collection_step(facts(stage="agency")).changed


def test_disconnect_list_order() -> None:
    c = DisconnectCandidate
    ordered = disconnect_order([
        c(1, 10_000, date(2026, 6, 1), 0),
        c(2, 50_000, date(2026, 6, 1), 0),
        c(3, 10_000, None, 0),
        c(4, 10_000, date(2026, 6, 1), 2),
    ])
    assert [x.account_id for x in ordered] == [2, 3, 4, 1]


def test_adequate_assurance_window() -> None:
    filed = date(2026, 7, 1)
    assert adequate_assurance_due(filed_on=filed, chapter=7) == date(2026, 7, 21)
    assert adequate_assurance_due(filed_on=filed, chapter=13) == date(2026, 7, 21)
    assert adequate_assurance_due(filed_on=filed, chapter=11) == date(2026, 7, 31)
