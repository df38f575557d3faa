"""The console's closed vocabularies and the routing rules every API process applies alike."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from core.enums import Role


class Skill(StrEnum):
    BILLING = "billing"
    OUTAGE = "outage"
    COLLECTIONS = "collections"
    COMMERCIAL = "commercial"
    EMERGENCY = "emergency"


class Presence(StrEnum):
    AVAILABLE = "available"  # takes offers
    BUSY = "busy"  # working, takes no new offers
    AWAY = "away"  # stepped out, or let an offer time out
    OFFLINE = "offline"


class EntryState(StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"
    ASSIGNED = "assigned"
    ABANDONED = "abandoned"  # left the queue (back to the bot, or closed)
    CALLBACK = "callback"  # chose a callback instead of waiting
    MESSAGE = "message"  # chose to leave a message instead of waiting
    DONE = "done"  # a callback or message an agent has dealt with


class OfferOutcome(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    TIMED_OUT = "timed_out"
    WITHDRAWN = "withdrawn"  # the customer left, or the entry went elsewhere


class AssignmentState(StrEnum):
    ACTIVE = "active"
    WRAP_UP = "wrap_up"
    DONE = "done"
    TRANSFERRED = "transferred"
    HANDED_BACK = "handed_back"  # returned to the bot


CONSOLE_ROLES = frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN})
SUPERVISING_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})

# Emergencies jump every queue (DOMAIN.md "Emergencies"); then money that stops a disconnect.
SKILL_PRIORITY: Mapping[Skill, int] = {
    Skill.EMERGENCY: 100,
    Skill.COLLECTIONS: 20,
    Skill.OUTAGE: 10,
    Skill.COMMERCIAL: 10,
    Skill.BILLING: 0,
}

# First-response targets: how long a queued customer may wait before a person answers.
FIRST_RESPONSE_SLA_S: Mapping[Skill, int] = {
    Skill.EMERGENCY: 60,
    Skill.COLLECTIONS: 300,
    Skill.OUTAGE: 300,
    Skill.COMMERCIAL: 300,
    Skill.BILLING: 300,
}
RESOLUTION_SLA_S = 30 * 60

DEFAULT_CAPACITY: Mapping[str, int] = {
    "sms": 3, "whatsapp": 3, "webchat": 3, "email": 5, "voice": 1,
}

# Wrap-up disposition codes the console offers out of the box (the migration seeds them).
DEFAULT_DISPOSITIONS: Mapping[str, str] = {
    "resolved": "Resolved",
    "payment_arrangement": "Payment arrangement made",
    "adjustment": "Adjustment posted or requested",
    "outage_info": "Outage information given",
    "service_order": "Service order created",
    "callback_scheduled": "Callback scheduled",
    "escalated": "Escalated",
    "no_response": "Customer stopped responding",
    "wrap_up_expired": "Wrap-up timed out",
}


def parse_skill(value: str) -> Skill:
    """Unknown or missing skills from a hand-off land in billing, the general queue."""
    try:
        return Skill(value)
    except ValueError:
        return Skill.BILLING


def entry_priority(skill: Skill, handoff_priority: int) -> int:
    """A hand-off's own priority (anger, hazard) adds to the skill's place in line."""
    return SKILL_PRIORITY[skill] + max(0, min(handoff_priority, 99))


def first_response_sla_s(skill: Skill) -> int:
    return FIRST_RESPONSE_SLA_S[skill]


def may_supervise(role: Role) -> bool:
    return role in SUPERVISING_ROLES
