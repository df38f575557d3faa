"""The life of a message (ARCHITECTURE.md) across conversations, consent and the bot seam:
intake → durable job → handled in order under the conversation's lock → replies stored →
sent inline by the webhook or queued for a channel sender."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, bindparam, case, select, update

from core.clock import utcnow
from core.config import Settings
from core.conversations import compliance, service
from core.conversations.compliance import CarrierKeyword
from core.conversations.events import (
    ConsentChanged,
    MessageReceived,
    OwnerChanged,
    ReplyRecorded,
)
from core.conversations.models import Conversation, Message, unhandled_inbound
from core.conversations.policy import BOT_SPEAKS, Owner, can_transition
from core.conversations.ports import Responder
from core.conversations.schemas import (
    BotOutcome,
    Handoff,
    InboundMessage,
    InlineReply,
    Media,
    PendingMessage,
    Reply,
    Turn,
)
from core.db import unit_of_work
from core.events import DomainEvent
from core.ports import Hold
from core.runtime import Runtime

log = logging.getLogger(__name__)

INBOUND_STREAM = "conversations.inbound"
OUTBOUND_STREAM = "conversations.outbound"
INLINE_TOPIC = "conversations.inline_ready"
INLINE_ANSWERS = "inline_answers"  # the process's InlineAnswers, in runtime.extras
WORKER_GROUP = "stormdesk-workers"
# A holder that dies (a killed API process handling its own messages) keeps the lock until
# the TTL: the retry's job waits that long. A turn takes milliseconds (the Rasa client gives
# up at 1.5 s), so 15 s is far past any live holder, and the wait outlasts a dead one's TTL.
# Should a holder ever run past it, the conditional handled mark still stops a second
# handling of the same message.
LOCK_TTL_S = 15.0
LOCK_WAIT_S = 30.0
# Twilio waits at most 15 s for a webhook's answer: a message older than that has no request
# waiting for its replies, whatever the channel (one re-queued after its webhook died, say),
# so they go by the channel sender instead of to a listener that is gone.
INLINE_HORIZON_S = 15.0


def conversation_lock(conversation_id: int) -> str:
    return f"conversation:{conversation_id}"


async def publish(runtime: Runtime, events: list[DomainEvent], *,
                  first: tuple[str, dict[str, Any]] | None = None,
                  release: Hold | None = None) -> None:
    """The events in order (after `first`, a raw topic and payload), in one bus round trip;
    then `release`, the conversation's lock, in that round trip where the bus can."""
    wire = [first] if first is not None else []
    wire.extend((event.topic, event.to_payload()) for event in events)
    if wire or release is not None:
        await runtime.bus.publish_many(wire, release=release)


async def intake(runtime: Runtime, inbound: InboundMessage, *,
                 expect_inline: Callable[[int], None] | None = None,
                 handle_here: Callable[[service.Intake, list[DomainEvent]], bool] | None = None
                 ) -> service.Intake:
    """Store the message (committed when this returns), then start its handling.

    `expect_inline` (InlineAnswers.expect) registers the caller as waiting for the replies
    before handling starts, so the wake-up cannot come first. `handle_here`
    (DirectHandling.take) handles it in this process if it has room, and then announces the
    message with the handling's own events, in the same bus round trip; otherwise the job goes
    on a durable queue after commit, and the message is announced here. If this process dies
    in between, `requeue_unhandled` finds the message."""
    result = await service.receive_at_once(runtime.engine, inbound=inbound,
                                           answer_inline=expect_inline is not None)
    if result is None:
        async with unit_of_work(runtime.sessions) as session:
            result = await service.receive(session, inbound=inbound,
                                           answer_inline=expect_inline is not None)
    if result.created:
        if expect_inline is not None:
            expect_inline(result.message_id)
        events: list[DomainEvent] = [MessageReceived(
            conversation_id=result.conversation_id, message_id=result.message_id,
            channel=inbound.channel, customer_id=result.customer_id, owner=result.owner)]
        if result.keyword in (CarrierKeyword.OPT_OUT, CarrierKeyword.OPT_IN):
            events.append(ConsentChanged(address=inbound.sender,
                                         opted_out=result.keyword is CarrierKeyword.OPT_OUT,
                                         keyword=compliance.keyword_word(inbound.text)))
        if handle_here is not None and handle_here(result, events):
            return result
        await queue_handling(runtime, result.conversation_id, result.message_id)
        await publish(runtime, events)
    return result


async def queue_handling(runtime: Runtime, conversation_id: int, message_id: int = 0) -> None:
    """A job for the workers: handle the conversation up to `message_id` (0: all of it)."""
    await runtime.queue.enqueue(INBOUND_STREAM, {"conversation_id": conversation_id,
                                                 "message_id": message_id})


@dataclass
class _Handled:
    inline: bool = False
    inbound_id: int = 0
    to_send: list[int] = field(default_factory=list)
    events: list[DomainEvent] = field(default_factory=list)
    # Text replies handed to the waiting webhook (status "queued"): they ride the wake-up.
    handed_over: list[InlineReply] | None = None


async def handle_conversation(runtime: Runtime, conversation_id: int, responder: Responder,
                              *, message_id: int = 0,
                              pending: PendingMessage | None = None,
                              announce: list[DomainEvent] | None = None) -> int:
    """Handle the conversation's unhandled inbound messages, oldest first, under its lock, up
    to and including `message_id` (the job's own message; 0 drains them all): two messages of
    one conversation are never handled at once, nor out of order, and a second job for an
    already drained conversation is a no-op. Returns how many it handled.

    Every stored message has a job of its own, so stopping at the job's message leaves the
    newer ones to their jobs (waiting for this lock), and an older one whose job was lost is
    handled first, here.

    `pending`: the job's message as the store statement read it (service.Intake.pending),
    so the first turn skips reading it again; handle_next checks it is still current.
    `announce`: events still to publish (intake's); the first commit here publishes them with
    its own and empties the list, so what is left in it afterwards is the caller's to send."""
    handled = 0
    async with runtime.lock.hold(conversation_lock(conversation_id), ttl_s=LOCK_TTL_S,
                                 wait_s=LOCK_WAIT_S) as held:
        while True:
            # The turn that reaches the job's message is the last: it gives the lock back
            # with its events, in their round trip (the next holder is after them).
            done = await handle_next(runtime, conversation_id, responder, pending=pending,
                                     announce=announce,
                                     last=(held, message_id) if message_id else None)
            pending = None
            if done is None:
                return handled
            handled += 1
            if message_id and done >= message_id:
                return handled


async def handle_next(runtime: Runtime, conversation_id: int, responder: Responder, *,
                      pending: PendingMessage | None = None,
                      announce: list[DomainEvent] | None = None,
                      last: tuple[Hold, int] | None = None) -> int | None:
    """The conversation's oldest unhandled inbound message, found and handled in one
    transaction; effects (inline wake-up, send jobs, events) only after commit. A bot failure
    never loses the message: it goes to a person instead. Returns its id, None if none was
    waiting.

    `pending`: that message, read before the lock was taken (PostgreSQL's store statement
    reads it, handle_conversation passes it on). Its handled mark then also checks that the
    conversation is as it was read and that nothing older waits; if not, nothing was written,
    and it is handled again from a fresh read.

    `last`: (the conversation's lock, the job's message id): if the message handled here is
    that one or newer, the caller stops after it, so its events give the lock back."""
    if pending is not None and runtime.engine.dialect.name != "postgresql":
        pending = None  # only PostgreSQL's mark can check it (service.mark_handled_with_replies)
    guarded = pending is not None
    message_id: int | None = None
    try:
        async with unit_of_work(runtime.sessions) as session:
            if pending is None:
                pending = await _next_unhandled(session, conversation_id)
                if pending is None:
                    return None
            message_id = pending.id
            outcome = await _handle(session, runtime.settings, pending, responder,
                                    guarded=guarded)
    except _AlreadyHandled:
        if guarded:  # or read stale, the mark cannot tell which: read it again, under the lock
            return await handle_next(runtime, conversation_id, responder, announce=announce,
                                     last=last)
        return message_id  # someone else handled it meanwhile; our work was rolled back
    except Exception:
        if message_id is None:
            raise  # the database failed before any message was found: the job is retried
        log.exception("bot failed on message %s; handing the conversation to a person",
                      message_id)
        async with unit_of_work(runtime.sessions) as session:
            outcome = await _fail_over(session, runtime.settings, message_id)
    if announce:
        outcome.events[:0] = announce
        announce.clear()
    await after_commit(runtime, outcome,
                       release=last[0] if last is not None and message_id >= last[1] else None)
    return message_id


async def after_commit(runtime: Runtime, outcome: _Handled, *,
                       release: Hold | None = None) -> None:
    wake: tuple[str, dict[str, Any]] | None = None
    if outcome.inline:
        payload: dict[str, Any] = {"message_id": outcome.inbound_id}
        if outcome.handed_over is not None:
            payload["replies"] = [reply.to_payload() for reply in outcome.handed_over]
        # Handled in the process whose webhook waits (direct handling, embedded workers):
        # handed straight to it, with no bus round trip, and no other process decodes it.
        answers = runtime.extras.get(INLINE_ANSWERS)
        if answers is None or not answers.wake_here(payload):
            wake = (INLINE_TOPIC, payload)
    for reply_id in outcome.to_send:
        await runtime.queue.enqueue(OUTBOUND_STREAM, {"message_id": reply_id})
    # The wake-up first: the webhook waiting for it is the customer waiting.
    await publish(runtime, outcome.events, first=wake, release=release)


class _AlreadyHandled(Exception):
    """Another handler marked the message first (only possible if a lock outlived its TTL)."""


# Prebuilt with bind parameters, like service.py's hot statements (see there why).
_messages = Message.__table__
_conversations = Conversation.__table__
_SAVE_STATE = (update(_conversations).where(_conversations.c.id == bindparam("conversation"))
               .values(bot_state=bindparam("state")))
# One statement marks the message handled (once: a second handler finds it taken) and
# decides who sends: if the webhook that delivered it is still waiting (and is not past
# Twilio's wait), the replies ride its response; if it gave up, or never waited, the channel
# sender sends them. A text webhook waiting for this message gets its replies with the
# wake-up: the consent check happens here, in this statement, right before the webhook
# answers, and it then answers without touching the database. (A phone call reads its held
# replies itself.) SQLite runs it and inserts the replies after; PostgreSQL does both, and
# the bot state, in repository.MARK_HANDLED_WITH_REPLIES.
_MARK_HANDLED = (
    update(_messages)
    .where(_messages.c.id == bindparam("message"), _messages.c.handled_at.is_(None))
    .values(handled_at=bindparam("now"),
            inline_state=case(
                (and_(_messages.c.inline_state == "waiting",
                      _messages.c.created_at > bindparam("fresh_after",
                                                         type_=_messages.c.created_at.type)),
                 "answered"),
                (_messages.c.inline_state == "waiting", "gave_up"),
                else_=_messages.c.inline_state))
    .returning(_messages.c.inline_state, compliance.opted_out(_messages.c.sender)))


# What handling reads: PendingMessage's columns, of the message and its conversation.
_PENDING = (select(*(_messages.c[name] for name in (
                "id", "conversation_id", "channel", "sender", "recipient", "body", "media",
                "carrier_keyword", "provider_answered")),
                   *(_conversations.c[name] for name in (
                       "owner", "bot_state", "customer_id", "language")))
            .join_from(_messages, _conversations,
                       _conversations.c.id == _messages.c.conversation_id))
_LOAD = _PENDING.where(_messages.c.id == bindparam("message"), _messages.c.handled_at.is_(None))
# The handling order is the storing order: the oldest inbound message not handled. Read from
# the partial index of unhandled messages, so it costs the same in a conversation of 5 or 5,000
# messages (hence the literals: models.UNHANDLED_INBOUND_SQL).
_NEXT_UNHANDLED = (_PENDING.where(_messages.c.conversation_id == bindparam("conversation"),
                                  unhandled_inbound())
                   .order_by(_messages.c.id).limit(1))


async def _load(session: Any, message_id: int) -> PendingMessage | None:
    found = (await session.execute(_LOAD, {"message": message_id})).first()
    return PendingMessage(**found._mapping) if found is not None else None


async def _next_unhandled(session: Any, conversation_id: int) -> PendingMessage | None:
    found = (await session.execute(_NEXT_UNHANDLED, {"conversation": conversation_id})).first()
    return PendingMessage(**found._mapping) if found is not None else None


async def _handle(session: Any, settings: Settings, message: PendingMessage,
                  responder: Responder, *, guarded: bool = False) -> _Handled:
    outcome = _Handled(inbound_id=message.id)
    replies: list[tuple[Reply, str]] = []  # (reply, purpose)
    keyword = CarrierKeyword(message.carrier_keyword) if message.carrier_keyword else None
    state: dict[str, Any] | None = None  # the bot's new state, written with the handled mark
    if keyword is not None:
        # Carrier keywords are answered by the rules, whoever owns the conversation.
        if not message.provider_answered:
            replies.append(_carrier_reply(keyword, settings))
    elif message.owner in BOT_SPEAKS:
        bot = await responder.respond(session, _turn(message))
        replies.extend((reply, "reply") for reply in bot.replies)
        state = _changed_state(message, bot)
        outcome.events.extend(await _apply_outcome(session, message, bot))
    # else: an agent owns it; MessageReceived already told the console.
    await _record(session, message, replies, outcome, state=state, guarded=guarded)
    return outcome


async def _fail_over(session: Any, settings: Settings, message_id: int) -> _Handled:
    message = await _load(session, message_id)
    if message is None:
        return _Handled()
    outcome = _Handled(inbound_id=message.id)
    sorry = Reply(text=f"Sorry, we could not process that. A person from "
                       f"{settings.utility_name} will follow up here, or call "
                       f"{settings.utility_phone}.")
    if can_transition(message.owner, Owner.QUEUED):
        outcome.events.extend(await _apply_outcome(session, message, BotOutcome(
            handoff=Handoff(reason="bot_error", skill="general"))))
    await _record(session, message, [(sorry, "reply")], outcome)
    return outcome


def _carrier_reply(keyword: CarrierKeyword, settings: Settings) -> tuple[Reply, str]:
    if keyword is CarrierKeyword.OPT_OUT:
        return Reply(text=compliance.opt_out_text(utility_name=settings.utility_name)), \
            "compliance"
    if keyword is CarrierKeyword.OPT_IN:
        return Reply(text=compliance.opt_in_text(utility_name=settings.utility_name)), "reply"
    return Reply(text=compliance.help_text(utility_name=settings.utility_name,
                                           utility_phone=settings.utility_phone)), "reply"


def _turn(message: PendingMessage) -> Turn:
    return Turn(
        conversation_id=message.conversation_id, message_id=message.id,
        channel=message.channel, address=message.sender, customer_id=message.customer_id,
        owner=message.owner, language=message.language, text=message.body,
        media=tuple(Media(m["url"], m.get("content_type") or "") for m in message.media or ()),
        state=dict(message.bot_state or {}),
    )


def _changed_state(message: PendingMessage, bot: BotOutcome) -> dict[str, Any] | None:
    """The bot's new state, if it changed; `_record` writes it, with the handled mark."""
    state = dict(bot.state) if bot.state is not None else None
    if state is None or state == message.bot_state:
        return None
    return state


async def _apply_outcome(session: Any, message: PendingMessage,
                         bot: BotOutcome) -> list[DomainEvent]:
    events: list[DomainEvent] = []
    target = None
    if bot.handoff is not None and message.owner == Owner.BOT:
        target, reason = Owner.QUEUED, bot.handoff.reason
    elif bot.close and can_transition(message.owner, Owner.CLOSED):
        target, reason = Owner.CLOSED, "resolved_by_bot"
    if target is not None:
        previous = await service.transition(session, conversation_id=message.conversation_id,
                                            to=target, reason=reason, handoff=bot.handoff)
        events.append(OwnerChanged(conversation_id=message.conversation_id, previous=previous,
                                   owner=target.value, reason=reason,
                                   skill=bot.handoff.skill if bot.handoff else None))
    return events


async def _record(session: Any, message: PendingMessage, replies: list[tuple[Reply, str]],
                  outcome: _Handled, *, state: dict[str, Any] | None = None,
                  guarded: bool = False) -> None:
    """Mark the message handled (once: a second handler finds it taken), write the bot's
    state, store the replies, and decide who sends them: if the webhook that delivered the
    message still waits (and is not past Twilio's wait), the replies ride its response; a
    text webhook gets them with the wake-up, consent checked here, at the moment of
    writing; a phone call reads its held replies itself. Otherwise the channel sender sends
    them."""
    now = utcnow()
    fresh_after = now - timedelta(seconds=INLINE_HORIZON_S)
    authored = [(reply, purpose, "bot" if purpose == "reply" else "system")
                for reply, purpose in replies]
    if session.bind.dialect.name == "postgresql":
        # One statement for all of it (a round trip per reply and one for the state less).
        done = await service.mark_handled_with_replies(
            session, message=message, replies=authored, now=now, fresh_after=fresh_after,
            state=state, guard=guarded)
        if done is None:
            raise _AlreadyHandled(message.id)
        marked_state, rows = done
    else:
        if state is not None:
            await session.execute(_SAVE_STATE, {"conversation": message.conversation_id,
                                                "state": state})
        marked = (await session.execute(_MARK_HANDLED, {
            "message": message.id, "now": now, "fresh_after": fresh_after})).first()
        if marked is None:
            raise _AlreadyHandled(message.id)
        marked_state, opted_out = marked[0], bool(marked[1])
        hand_over = message.channel in service.TEXT_CHANNELS
        rows = []
        for reply, purpose, author in authored:
            rows.extend(await service.record_reply(
                session, conversation_id=message.conversation_id, reply=reply, author=author,
                reply_to=message, purpose=purpose,
                status=_reply_status(marked_state, hand_over=hand_over, opted_out=opted_out,
                                     purpose=purpose)))
    outcome.inline = marked_state == "answered"
    if outcome.inline and message.channel in service.TEXT_CHANNELS:
        outcome.handed_over = []
    for row in rows:
        outcome.events.append(ReplyRecorded(conversation_id=row.conversation_id,
                                            message_id=row.id, author=row.author,
                                            channel=row.channel))
        if not outcome.inline:
            outcome.to_send.append(row.id)
        elif outcome.handed_over is not None and row.status == "queued":
            outcome.handed_over.append(InlineReply.of(row))


def _reply_status(marked_state: str | None, *, hand_over: bool, opted_out: bool,
                  purpose: str) -> str:
    """Who sends a reply (the same rule is in repository.MARK_HANDLED_WITH_REPLIES)."""
    if marked_state != "answered":
        return "pending"  # nobody waits: the channel sender
    if not hand_over:
        return "held"  # a phone call reads it
    return "suppressed" if opted_out and purpose != "compliance" else "queued"


async def send_reply(runtime: Runtime, *, conversation_id: int, reply: Reply,
                     author: str = "agent", purpose: str = "reply") -> list[int]:
    """Record a reply that no inbound message is waiting for (an agent's, a notice) and queue
    it for its channel's sender. The console uses this; it never imports a channel."""
    async with unit_of_work(runtime.sessions) as session:
        rows = await service.record_reply(session, conversation_id=conversation_id,
                                          reply=reply, author=author, purpose=purpose)
        ids = [row.id for row in rows]
        events: list[DomainEvent] = [ReplyRecorded(conversation_id=conversation_id,
                                                   message_id=row.id, author=author,
                                                   channel=row.channel) for row in rows]
    await after_commit(runtime, _Handled(to_send=ids, events=events))
    return ids


# What the sweep looks for: read whole from the partial index, which holds only the messages
# not handled yet (normally a handful; after an outage, what it left). The time window is
# applied here, not in SQL: given one, the planner (its generic plan cannot see the bounds)
# picks the created_at index and reads a day of handled messages.
_UNHANDLED = select(_messages.c.conversation_id, _messages.c.created_at).where(
    unhandled_inbound())


async def requeue_unhandled(runtime: Runtime, *, older_than_s: float = 30.0,
                            horizon_s: float = 86400.0) -> int:
    """Re-queue conversations with inbound messages stored but never handled (a process died
    between commit and enqueue). Safe to run anywhere, any time: handling is idempotent."""
    now = utcnow()
    async with runtime.sessions() as session:
        rows = (await session.execute(_UNHANDLED)).all()
    after, before = now - timedelta(seconds=horizon_s), now - timedelta(seconds=older_than_s)
    ids = sorted({row.conversation_id for row in rows if after < row.created_at < before})
    for conversation_id in ids:
        await queue_handling(runtime, conversation_id)
    return len(ids)


async def requeue_unsent(runtime: Runtime, *, older_than_s: float = 30.0,
                         horizon_s: float = 3600.0) -> int:
    """Re-queue replies stored for the channel sender but never sent (a process died between
    the handler's commit and its send jobs). A job for a reply already on its way is a
    no-op: the sender claims a reply (pending → claimed) before it sends it."""
    now = utcnow()
    async with runtime.sessions() as session:
        ids = list(await session.scalars(
            select(Message.id).where(
                Message.created_at > now - timedelta(seconds=horizon_s),
                Message.created_at < now - timedelta(seconds=older_than_s),
                Message.direction == "outbound", Message.status == "pending",
            ).order_by(Message.id)))
    for message_id in ids:
        await runtime.queue.enqueue(OUTBOUND_STREAM, {"message_id": message_id})
    return len(ids)
