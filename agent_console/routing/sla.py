"""SLA timers: first response (from joining the queue to an agent's first reply) and
resolution (from accept to close). Each breach is announced once, to supervisors and to
whoever can still fix it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from agent_console.live.log import SUPERVISORS, ConsoleTx, agent_audience, skill_audience
from agent_console.routing import cards
from core.agents.models import Assignment, QueueEntry
from core.agents.policy import AssignmentState, EntryState


async def check(tx: ConsoleTx, *, now: datetime) -> int:
    breaches = 0
    waiting = await tx.session.scalars(select(QueueEntry).where(
        QueueEntry.state.in_([EntryState.WAITING.value, EntryState.OFFERED.value]),
        QueueEntry.sla_breached.is_(False), QueueEntry.first_response_due <= now))
    for entry in waiting:
        entry.sla_breached = True
        tx.emit([SUPERVISORS, skill_audience(entry.skill)], "sla.breach",
                {"sla": "first_response", **cards.entry_card(entry)},
                conversation_id=entry.conversation_id)
        breaches += 1
    unanswered = await tx.session.scalars(select(Assignment).where(
        Assignment.state == AssignmentState.ACTIVE.value, Assignment.first_response_at.is_(None),
        Assignment.first_response_breached.is_(False), Assignment.first_response_due <= now))
    for assignment in unanswered:
        assignment.first_response_breached = True
        tx.emit([SUPERVISORS, agent_audience(assignment.agent_id)], "sla.breach",
                {"sla": "first_response", **cards.assignment_card(assignment)},
                conversation_id=assignment.conversation_id)
        breaches += 1
    overdue = await tx.session.scalars(select(Assignment).where(
        Assignment.state == AssignmentState.ACTIVE.value,
        Assignment.resolution_breached.is_(False), Assignment.resolution_due <= now))
    for assignment in overdue:
        assignment.resolution_breached = True
        tx.emit([SUPERVISORS, agent_audience(assignment.agent_id)], "sla.breach",
                {"sla": "resolution", **cards.assignment_card(assignment)},
                conversation_id=assignment.conversation_id)
        breaches += 1
    return breaches
