"""How routing records look on the wire (events and REST), in one place."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.agents.models import Agent, Assignment, Offer, QueueEntry


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def agent_card(agent: Agent, load: dict[str, int] | None = None) -> dict[str, Any]:
    return {
        "agent_id": agent.id,
        "username": agent.username,
        "display_name": agent.display_name,
        "role": agent.role,
        "skills": list(agent.skills or ()),
        "capacity": dict(agent.capacity or {}),
        "load": dict(load or {}),
        "presence": agent.presence,
        "presence_since": _iso(agent.presence_since),
        "idle_since": _iso(agent.idle_since),
    }


def entry_card(entry: QueueEntry) -> dict[str, Any]:
    return {
        "entry_id": entry.id,
        "conversation_id": entry.conversation_id,
        "skill": entry.skill,
        "channel": entry.channel,
        "priority": entry.priority,
        "state": entry.state,
        "enqueued_at": _iso(entry.enqueued_at),
        "first_response_due": _iso(entry.first_response_due),
        "sla_breached": entry.sla_breached,
        "target_agent_id": entry.target_agent_id,
        "transfer_note": entry.transfer_note,
        "callback_number": entry.callback_number,
        "customer_note": entry.customer_note,
    }


def offer_card(offer: Offer) -> dict[str, Any]:
    return {
        "offer_id": offer.id,
        "entry_id": offer.entry_id,
        "conversation_id": offer.conversation_id,
        "agent_id": offer.agent_id,
        "channel": offer.channel,
        "offered_at": _iso(offer.offered_at),
        "expires_at": _iso(offer.expires_at),
        "outcome": offer.outcome,
    }


def assignment_card(assignment: Assignment) -> dict[str, Any]:
    return {
        "assignment_id": assignment.id,
        "conversation_id": assignment.conversation_id,
        "agent_id": assignment.agent_id,
        "skill": assignment.skill,
        "channel": assignment.channel,
        "state": assignment.state,
        "started_at": _iso(assignment.started_at),
        "first_response_due": _iso(assignment.first_response_due),
        "first_response_at": _iso(assignment.first_response_at),
        "resolution_due": _iso(assignment.resolution_due),
        "wrap_up_due": _iso(assignment.wrap_up_due),
        "disposition": assignment.disposition,
    }
