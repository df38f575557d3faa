"""The rules of a conversation, in one place: who may own it next, and how delivery moves."""

from __future__ import annotations

from enum import StrEnum

from core.errors import Conflict


class Owner(StrEnum):
    BOT = "bot"
    QUEUED = "queued"
    AGENT = "agent"
    WRAP_UP = "wrap_up"
    CLOSED = "closed"


# ARCHITECTURE.md: bot → queued → agent → wrap_up → closed, queued → bot when the customer
# leaves the queue, agent → queued on transfer. The bot may also close a conversation it
# finished by itself; nothing ever leaves `closed` (a new message opens a new conversation).
TRANSITIONS: dict[Owner, frozenset[Owner]] = {
    Owner.BOT: frozenset({Owner.QUEUED, Owner.CLOSED}),
    Owner.QUEUED: frozenset({Owner.AGENT, Owner.BOT, Owner.CLOSED}),
    Owner.AGENT: frozenset({Owner.WRAP_UP, Owner.QUEUED}),
    Owner.WRAP_UP: frozenset({Owner.CLOSED}),
    Owner.CLOSED: frozenset(),
}

# Owners under which the bot answers the customer (queued: it can tell them where they stand
# or let them leave the queue). Under an agent the bot never speaks.
BOT_SPEAKS = frozenset({Owner.BOT, Owner.QUEUED})


def can_transition(current: str, target: str) -> bool:
    return Owner(target) in TRANSITIONS[Owner(current)]


def ensure_transition(current: str, target: str) -> Owner:
    """Return the target owner, or refuse with 409: the one gate every ownership change passes."""
    if not can_transition(current, target):
        raise Conflict(f"a conversation cannot go from {current} to {target}",
                       current=current, target=target)
    return Owner(target)


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


# Delivery lifecycle of an outbound message. Rank 0 states are ours, before any provider saw
# the message: `pending` (waits for a dispatcher), `held` (kept for the inline webhook answer),
# `claimed` (one dispatcher owns the send). Provider callbacks can arrive twice or out of
# order (Twilio does both), so a status is applied only if it ranks above the stored one: a
# late "sent" never overwrites "delivered", and a duplicate changes nothing.
STATUS_RANK: dict[str, int] = {
    "pending": 0,
    "held": 0,
    "claimed": 0,
    "received": 0,
    "accepted": 1,
    "scheduled": 1,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "canceled": 4,
    "read": 5,
    # Our own terminal verdict (opted-out recipient at send time): nothing may follow it.
    "suppressed": 9,
}

FINAL_STATUSES = frozenset({"delivered", "undelivered", "failed", "canceled", "read", "suppressed"})


def status_rank(status: str) -> int:
    """Unknown provider statuses rank as `queued`: recorded, never able to undo progress."""
    return STATUS_RANK.get(status, 1)


def advances(current: str, new: str) -> bool:
    return status_rank(new) > status_rank(current)
