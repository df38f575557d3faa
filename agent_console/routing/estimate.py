"""Where a queued customer stands: position in line and an estimated wait, for the bot to say.

The bot cannot import the console (layering), so the composition root hands it
`runtime.extras["queue_estimate"]`, an `async (conversation_id, skill, priority) ->
(position, wait_minutes)` built here."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_console.config import console_config
from core.agents import repository
from core.agents.models import Agent, Assignment, QueueEntry
from core.agents.policy import AssignmentState, Presence, entry_priority, parse_skill
from core.clock import utcnow
from core.conversations.models import Conversation
from core.runtime import Runtime

QueueEstimate = Callable[[int, str, int], Awaitable[tuple[int, int]]]
HISTORY = timedelta(hours=2)


async def average_handle_s(session: AsyncSession, *, skill: str, now: datetime,
                           default_s: float) -> float:
    """Mean accept-to-close time of this skill's recent conversations (the default if none)."""
    rows = (await session.execute(
        select(Assignment.started_at, Assignment.ended_at).where(
            Assignment.skill == skill, Assignment.state == AssignmentState.DONE.value,
            Assignment.ended_at >= now - HISTORY).order_by(Assignment.id.desc()).limit(200)
    )).all()
    spans = [(end - start).total_seconds() for start, end in rows if end is not None]
    return sum(spans) / len(spans) if spans else default_s


async def estimate(session: AsyncSession, *, conversation_id: int, skill: str, priority: int,
                   now: datetime, default_handle_s: float) -> tuple[int, int]:
    entry = await repository.live_entry(session, conversation_id=conversation_id)
    if entry is not None:
        skill_name, my_priority, joined, my_id = entry.skill, entry.priority, entry.enqueued_at, \
            entry.id
        channel = entry.channel
    else:  # not picked up yet: as if joining the back of its priority band now
        parsed = parse_skill(skill)
        skill_name, my_priority, joined, my_id = parsed.value, entry_priority(parsed, priority), \
            now, None
        conversation = await session.get(Conversation, conversation_id)
        channel = conversation.channel if conversation else "sms"
    ahead_query = select(func.count()).select_from(QueueEntry).where(
        QueueEntry.live_key.is_not(None), QueueEntry.skill == skill_name,
        or_(QueueEntry.priority > my_priority,
            and_(QueueEntry.priority == my_priority, QueueEntry.enqueued_at < joined),
            and_(QueueEntry.priority == my_priority, QueueEntry.enqueued_at == joined,
                 QueueEntry.id < (my_id or 0))))
    if my_id is not None:
        ahead_query = ahead_query.where(QueueEntry.id != my_id)
    ahead = int(await session.scalar(ahead_query) or 0)
    position = ahead + 1
    staffed = await session.scalars(select(Agent).where(
        Agent.active, Agent.presence.in_([Presence.AVAILABLE.value, Presence.BUSY.value])))
    slots = sum(int((a.capacity or {}).get(channel, 0)) for a in staffed
                if skill_name in (a.skills or ()))
    handle_s = await average_handle_s(session, skill=skill_name, now=now,
                                      default_s=default_handle_s)
    wait_s = position * handle_s / max(1, slots)
    return position, max(1, math.ceil(wait_s / 60))


def make_queue_estimate(runtime: Runtime) -> QueueEstimate:
    async def queue_estimate(conversation_id: int, skill: str, priority: int) -> tuple[int, int]:
        """(position, wait_minutes) for a conversation in (or about to join) a skill queue."""
        async with runtime.sessions() as session:
            return await estimate(session, conversation_id=conversation_id, skill=skill,
                                  priority=priority, now=utcnow(),
                                  default_handle_s=console_config(runtime).default_handle_s)

    return queue_estimate
