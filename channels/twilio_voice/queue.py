"""A caller waiting for a person: the hand-off when the line cannot hear them, where they
stand in line, and the callback they can take instead of waiting.

The console owns the queues; this layer may not import it, so it uses the hooks the
composition root installs: `runtime.extras["queue_estimate"]` (position, minutes) and
`runtime.extras["queue_exit"]` (the customer leaves the queue for a callback).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.flows.handoff import SKILL_BY_FLOW
from core.clock import utcnow
from core.conversations import service
from core.conversations.events import OwnerChanged
from core.conversations.flows import conversation_lock, publish
from core.conversations.models import Conversation
from core.conversations.policy import Owner
from core.conversations.schemas import Handoff
from core.db import unit_of_work
from core.runtime import Runtime

LOCK_TTL_S = 30.0
LOCK_WAIT_S = 10.0
WAITING = frozenset({Owner.QUEUED.value, Owner.AGENT.value})


@dataclass(frozen=True, slots=True)
class Place:
    """Where a conversation stands with the people: `owner` queued or agent, its skill
    queue, and the console's estimate (None when no estimate hook is wired)."""

    conversation_id: int
    owner: str
    skill: str
    priority: int
    position: int | None = None
    wait_minutes: int | None = None


async def hand_off(runtime: Runtime, *, conversation_id: int, reason: str,
                   detail: str) -> Place:
    """Queue the conversation for a person, as the bot's own hand-off does (same summary
    shape), when the phone line gives up on hearing the caller. A repeat changes nothing."""
    event: OwnerChanged | None = None
    lock = runtime.lock.hold(conversation_lock(conversation_id), ttl_s=LOCK_TTL_S,
                             wait_s=LOCK_WAIT_S)
    async with lock, unit_of_work(runtime.sessions) as session:
        conversation = await session.get(Conversation, conversation_id, populate_existing=True)
        assert conversation is not None
        if conversation.owner == Owner.BOT.value:
            state = dict(conversation.bot_state or {})
            slots = {k: v for k, v in (state.get("slots") or {}).items()
                     if not str(k).startswith("_")}
            handoff = Handoff(
                reason=reason, skill=SKILL_BY_FLOW.get(state.get("flow") or "", "billing"),
                priority=1, summary={
                    "text": f"{reason}: {detail}", "intent": state.get("flow"),
                    "slots": slots, "verification": state.get("verification", "none"),
                    "verified_account_id": state.get("verified_account_id"),
                    "language": state.get("language") or conversation.language,
                    "channel": "voice"})
            previous = await service.transition(session, conversation_id=conversation_id,
                                                to=Owner.QUEUED.value, reason=reason,
                                                handoff=handoff)
            event = OwnerChanged(conversation_id=conversation_id, previous=previous,
                                 owner=Owner.QUEUED.value, reason=reason, skill=handoff.skill)
    if event is not None:
        await publish(runtime, [event])
    return await place_of(runtime, conversation_id)


async def place_of(runtime: Runtime, conversation_id: int) -> Place:
    async with runtime.sessions() as session:
        conversation = await session.get(Conversation, conversation_id, populate_existing=True)
        assert conversation is not None
        place = Place(conversation_id=conversation_id, owner=conversation.owner,
                      skill=conversation.skill or "billing", priority=conversation.priority)
    estimate = runtime.extras.get("queue_estimate")
    if estimate is None or place.owner != Owner.QUEUED.value:
        return place
    position, wait = await estimate(conversation_id, place.skill, place.priority)
    return Place(conversation_id=conversation_id, owner=place.owner, skill=place.skill,
                 priority=place.priority, position=position, wait_minutes=max(1, wait))


async def request_callback(runtime: Runtime, *, conversation_id: int, number: str,
                           via: str) -> bool:
    """The caller takes a call back instead of waiting: noted on the hand-off summary (what
    the agent reads first) and handed to the console's queue-exit hook, which records the
    callback on the queue entry. Recorded once; returns False for a repeat."""
    async with unit_of_work(runtime.sessions) as session:
        conversation = await session.get(Conversation, conversation_id, with_for_update=True,
                                         populate_existing=True)
        if conversation is None:
            return False
        handoff: dict[str, Any] = dict(conversation.handoff or {"reason": "callback"})
        summary = dict(handoff.get("summary") or {})
        if "callback" in summary:
            return False
        summary["callback"] = {"number": number, "requested_at": utcnow().isoformat(),
                               "via": via}
        handoff["summary"] = summary
        conversation.handoff = handoff
        await session.flush()
        queue_exit = runtime.extras.get("queue_exit")
        if queue_exit is not None:
            await queue_exit(session, conversation_id=conversation_id, choice="callback",
                             callback_number=number, note=f"phone caller asked for a call "
                                                          f"back ({via})")
        return True
