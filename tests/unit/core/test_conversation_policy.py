"""Ownership transitions and the delivery-status order, at their edges."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.conversations.policy import (
    STATUS_RANK,
    TRANSITIONS,
    Owner,
    advances,
    can_transition,
    ensure_transition,
)
from core.errors import Conflict

ALLOWED = {
    ("bot", "queued"), ("bot", "closed"), ("queued", "agent"), ("queued", "bot"),
    ("queued", "closed"), ("agent", "wrap_up"), ("agent", "queued"), ("wrap_up", "closed"),
}


def test_exactly_the_documented_transitions_are_allowed() -> None:
    owners = [o.value for o in Owner]
    for current, target in itertools.product(owners, owners):
        assert can_transition(current, target) == ((current, target) in ALLOWED)


def test_refused_transition_is_a_409_naming_both_ends() -> None:
    with pytest.raises(Conflict) as refused:
        ensure_transition("agent", "bot")
    assert refused.value.status_code == 409
    assert refused.value.detail == {"current": "agent", "target": "bot"}


def test_closed_is_final() -> None:
    assert TRANSITIONS[Owner.CLOSED] == frozenset()


def test_provider_lifecycle_only_moves_forward() -> None:
    order = ["queued", "sending", "sent", "delivered", "read"]
    for earlier, later in itertools.combinations(order, 2):
        assert advances(earlier, later) and not advances(later, earlier)
    assert not advances("delivered", "sent")
    assert not advances("delivered", "failed")  # one terminal outcome, the first
    assert not advances("suppressed", "delivered")
    assert advances("claimed", "queued") and advances("pending", "failed")


@given(st.lists(st.sampled_from(sorted(STATUS_RANK)), min_size=1, max_size=12))
def test_applying_callbacks_in_any_order_ends_at_the_highest(statuses: list[str]) -> None:
    current = "pending"
    for status in statuses:
        if advances(current, status):
            current = status
    assert STATUS_RANK[current] == max([0, *(STATUS_RANK[s] for s in statuses)])
