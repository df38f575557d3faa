"""Skill queues: how a conversation enters one, leaves one, and what the queues look like.

A conversation enters a queue when its owner becomes `queued` (the bot's hand-off, a transfer):
the conversation row carries the skill, priority and hand-off summary. A routing pass turns
every queued conversation without a live entry into one, so nothing depends on an event
arriving; `enqueue` does it at once when the caller is the console itself."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agent_console.live.log import SUPERVISORS, ConsoleTx, skill_audience
from agent_console.routing import cards
from agent_console.routing.presence import withdraw
from core.agents import repository
from core.agents.models import Agent, Offer, QueueEntry
from core.agents.policy import (
    EntryState,
    OfferOutcome,
    Presence,
    Skill,
    entry_priority,
    first_response_sla_s,
    parse_skill,
)
from core.conversations import service as conversation_service
from core.conversations.models import Conversation
from core.conversations.policy import Owner
from core.errors import Conflict, Invalid


async def enqueue(
    tx: ConsoleTx,
    *,
    conversation: Conversation,
    now: datetime,
    skill: Skill | None = None,
    target_agent_id: int | None = None,
    transferred_by: int | None = None,
    note: str | None = None,
    joined: datetime | None = None,
) -> QueueEntry:
    """The conversation's live entry, created if it has none (idempotent under races).

    `joined` is when the customer started waiting (the hand-off), which orders the queue and
    starts the first-response clock; it defaults to now."""
    existing = await repository.live_entry(tx.session, conversation_id=conversation.id)
    if existing is not None:
        return existing
    chosen = skill or parse_skill(conversation.skill or "")
    if joined is None:
        joined = now
    entry = QueueEntry(
        conversation_id=conversation.id,
        live_key=conversation.id,
        skill=chosen.value,
        channel=conversation.channel,
        priority=entry_priority(chosen, conversation.priority or 0),
        state=EntryState.WAITING.value,
        enqueued_at=joined,
        first_response_due=joined + timedelta(seconds=first_response_sla_s(chosen)),
        sla_breached=False,
        target_agent_id=target_agent_id,
        transferred_by=transferred_by,
        transfer_note=note[:500] if note else None,
        passed_agent_ids=[],
        offers_made=0,
    )
    try:
        async with tx.session.begin_nested():
            tx.session.add(entry)
    except IntegrityError:
        # Another process enqueued it first: theirs is the live one.
        found = await repository.live_entry(tx.session, conversation_id=conversation.id)
        if found is None:
            raise
        return found
    tx.kick = True
    return entry


def _end(entry: QueueEntry, state: EntryState, now: datetime) -> None:
    entry.state = state.value
    entry.live_key = None
    if state in (EntryState.ABANDONED, EntryState.ASSIGNED, EntryState.DONE):
        entry.ended_at = now


async def reconcile(tx: ConsoleTx, *, now: datetime) -> int:
    """Bring the queues in line with the conversations; returns how many entries changed."""
    session = tx.session
    changed = 0
    orphans = await session.scalars(
        select(Conversation).where(
            Conversation.owner == Owner.QUEUED.value,
            ~exists().where(QueueEntry.live_key == Conversation.id),
        ).limit(500)
    )
    for conversation in orphans:
        joined = min(conversation.owner_changed_at or now, now)
        await enqueue(tx, conversation=conversation, now=now, joined=joined)
        changed += 1
    stale = await session.execute(
        select(QueueEntry, Conversation.owner)
        .join(Conversation, Conversation.id == QueueEntry.conversation_id)
        .where(QueueEntry.live_key.is_not(None), Conversation.owner != Owner.QUEUED.value)
    )
    for entry, owner in stale.all():
        _end(entry, EntryState.ASSIGNED if owner == Owner.AGENT else EntryState.ABANDONED, now)
        changed += 1
    # Offers whose entry is no longer on offer (customer left, entry ended): tell the agent.
    dangling = await session.scalars(
        select(Offer).join(QueueEntry, QueueEntry.id == Offer.entry_id).where(
            Offer.outcome == OfferOutcome.PENDING.value,
            QueueEntry.state != EntryState.OFFERED.value,
        )
    )
    for offer in dangling:
        await withdraw(tx, offer=offer, now=now, reason="the customer left the queue",
                       end_entry=True)
        changed += 1
    if changed:
        tx.kick = True
    return changed


async def leave_queue(session: AsyncSession, *, conversation_id: int, choice: str,
                      callback_number: str | None = None, note: str | None = None,
                      now: datetime) -> QueueEntry | None:
    """The customer stops waiting and leaves a message or asks for a callback.

    Runs in the caller's session (the bot's turn), so it commits with the bot's reply; the
    conversation goes back to the bot, and the next routing pass tells any offered agent."""
    if choice not in (EntryState.CALLBACK.value, EntryState.MESSAGE.value):
        raise Invalid("choice is 'callback' or 'message'")
    entry = await repository.live_entry(session, conversation_id=conversation_id,
                                        for_update=True)
    conversation = await session.get(Conversation, conversation_id)
    if conversation is not None and conversation.owner == Owner.QUEUED.value:
        await conversation_service.transition(session, conversation_id=conversation_id,
                                              to=Owner.BOT.value, reason=f"customer_{choice}")
    if entry is None:
        return None
    _end(entry, EntryState(choice), now)
    entry.callback_number = (callback_number or "")[:32] or None
    entry.customer_note = (note or "")[:1000] or None
    await session.flush()
    return entry


async def close_callback(tx: ConsoleTx, *, entry_id: int, agent_id: int,
                         now: datetime) -> QueueEntry:
    """An agent has called back or answered the message."""
    entry = await tx.session.get(QueueEntry, entry_id, with_for_update=True)
    if entry is None or entry.state not in (EntryState.CALLBACK, EntryState.MESSAGE):
        raise Conflict("no open callback or message with that id", entry_id=entry_id)
    entry.handled_by = agent_id
    _end(entry, EntryState.DONE, now)
    await tx.session.flush()
    tx.emit([skill_audience(entry.skill), SUPERVISORS], "callback.done",
            cards.entry_card(entry), conversation_id=entry.conversation_id)
    return entry


async def open_callbacks(session: AsyncSession, *, skills: list[str] | None = None,
                         limit: int = 200) -> list[QueueEntry]:
    query = select(QueueEntry).where(
        QueueEntry.state.in_([EntryState.CALLBACK.value, EntryState.MESSAGE.value]))
    if skills is not None:
        query = query.where(QueueEntry.skill.in_(skills))
    return list(await session.scalars(query.order_by(QueueEntry.enqueued_at).limit(limit)))


async def snapshot(session: AsyncSession, *, now: datetime) -> dict[str, Any]:
    """Per skill: waiting, on offer, longest wait, SLA breaches, agents staffed, callbacks."""
    queues: dict[str, dict[str, Any]] = {
        s.value: {"waiting": 0, "offered": 0, "oldest_enqueued_at": None, "longest_wait_s": 0,
                  "sla_breached": 0, "agents_available": 0, "agents_staffed": 0,
                  "callbacks": 0}
        for s in Skill
    }
    for entry in await repository.live_entries(session):
        q = queues.setdefault(entry.skill, dict(queues[Skill.BILLING.value], waiting=0))
        q["waiting" if entry.state == EntryState.WAITING else "offered"] += 1
        q["sla_breached"] += int(entry.sla_breached or entry.first_response_due <= now)
        wait = int((now - entry.enqueued_at).total_seconds())
        if wait >= q["longest_wait_s"]:
            q["longest_wait_s"] = wait
            q["oldest_enqueued_at"] = entry.enqueued_at.isoformat()
    rows = await session.execute(
        select(QueueEntry.skill, func.count()).where(
            QueueEntry.state.in_([EntryState.CALLBACK.value, EntryState.MESSAGE.value])
        ).group_by(QueueEntry.skill))
    for skill, count in rows.all():
        if skill in queues:
            queues[skill]["callbacks"] = count
    agents = await session.scalars(select(Agent).where(
        Agent.active, Agent.presence.in_([Presence.AVAILABLE.value, Presence.BUSY.value])))
    for agent in agents:
        for skill in agent.skills or ():
            if skill in queues:
                queues[skill]["agents_staffed"] += 1
                queues[skill]["agents_available"] += int(agent.presence == Presence.AVAILABLE)
    return {"at": now.isoformat(), "queues": queues}
