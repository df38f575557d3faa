"""Inline answers: let the request that delivered a message carry the bot's reply, when the
bot is quick enough (Twilio reads TwiML from the webhook response; it waits up to 15 s).

The webhook registers a waiter before the handling job is queued; the handler marks the
message "answered" in its transaction, checks consent and marks text replies queued for the
webhook there too, and after commit announces them on the bus; the webhook wakes and puts
them in its response without a database round trip. At the budget it marks the message
"gave_up" instead, and the replies go by REST. Whichever conditional update wins decides, so
a reply is sent exactly one way even if the announcement is lost (then the webhook reads
what was handed to it).

A request can die between the hand-over and its answer (a killed process, a cut connection)
and Twilio then delivers the message again. The repeat waits out the first request's budget,
then takes what no answer carried: replies handed over, unless an answer with them left this
side (the webhook notes that once its response is written: `answered`); or, if nothing was
handled yet, it gives up for the first request so the replies go by REST. The note comes after
the response, not before it: a request that noted first and died before its answer left
would leave the replies with nobody (Twilio retried, so the answer never reached it). A first
request so slow that the repeat carries them too answers a connection Twilio has abandoned:
Twilio retries only once it stops waiting for an answer, and drops one that comes later.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from typing import Any

from sqlalchemy import or_, select, update

from core.clock import utcnow
from core.conversations import compliance, flows
from core.conversations.flows import INLINE_TOPIC
from core.conversations.models import Message
from core.conversations.policy import status_rank
from core.conversations.schemas import InlineReply
from core.db import unit_of_work
from core.runtime import Runtime

log = logging.getLogger(__name__)

# A repeat delivery waits this long past the first request's budget before it decides that
# request is gone: time for its last database round trip.
REPEAT_GRACE_S = 1.0
# How long "these replies rode an answer" is remembered; Twilio's retries come within minutes.
ANSWERED_TTL_S = 3600.0
# The notes are written together, at most this long after their answers: one Redis round
# trip for all the answers of that window instead of one each. A repeat in another process
# reads them only a budget plus REPEAT_GRACE_S after its message came, far later.
NOTE_EVERY_S = 0.05


class InlineAnswers:
    """One per process: a bus listener that wakes the webhook requests waiting in it."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._waiters: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.listening = asyncio.Event()
        self._notes: list[str] = []  # answered, not yet written (see `answered`)
        self._writing: asyncio.Task[None] | None = None

    async def listen(self) -> None:
        """Run for the life of the process (stormdesk.hooks starts it)."""
        while True:
            try:
                async with self._runtime.bus.subscribe(INLINE_TOPIC) as events:
                    self.listening.set()
                    async for event in events:
                        self.wake_here(event)
                return
            except asyncio.CancelledError:
                raise
            except Exception:  # a bus hiccup must not end inline answers
                self.listening.clear()
                log.exception("inline-answer listener lost the bus; resubscribing")
                await asyncio.sleep(1.0)

    def wake_here(self, event: dict[str, Any]) -> bool:
        """The wake-up from a handler in this process; False if no request here waits for
        it (it then goes by the bus, to whichever process does)."""
        waiter = self._waiters.get(int(event.get("message_id", 0)))
        if waiter is None or waiter.done():
            return False
        waiter.set_result(event)
        return True

    def fail_here(self, message_id: int, error: BaseException) -> None:
        """Nobody will handle the message soon (handling here and queuing its job both
        failed): the waiting webhook raises `error` now, so its sender hears 503 and retries,
        rather than an empty answer at the budget."""
        waiter = self._waiters.get(message_id)
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    def expect(self, message_id: int) -> None:
        self._waiters[message_id] = asyncio.get_running_loop().create_future()

    async def collect(self, message_id: int, *, budget_s: float,
                      deliver_as: str = "queued") -> list[InlineReply]:
        """The replies to send inline now (marked `deliver_as`), or [] if the budget ran out
        first. An opted-out number gets only the compliance confirmation.

        Text replies normally arrive with the wake-up, handed over (consent checked, marked
        queued) by the handler's transaction: then nothing here touches the database."""
        waiter = self._waiters.get(message_id)
        wake: dict[str, Any] | None = None
        if waiter is not None:
            with suppress(TimeoutError):
                wake = await asyncio.wait_for(waiter, timeout=budget_s)
            self._waiters.pop(message_id, None)
        if wake is not None and "replies" in wake:
            ready = [InlineReply.from_payload(r) for r in wake["replies"]]
            if deliver_as != "queued" and ready:
                async with unit_of_work(self._runtime.sessions) as session:
                    await _mark(session, [r.id for r in ready], deliver_as)
            return ready
        async with unit_of_work(self._runtime.sessions) as session:
            if wake is None and await _give_up(session, message_id):
                return []
            # Answered, but the wake-up was lost or came too late: the handler handed text
            # replies over (queued for us); anything it held instead is handed over here.
            return await _take(session, message_id, deliver_as)

    async def collect_repeat(self, message_id: int, *, budget_s: float) -> list[InlineReply]:
        """The replies a repeat delivery of a stored message carries: those handed over to a
        request that never answered. Empty when the first request answered (or is answering),
        when the replies go by REST, or when the message never waited for an inline answer."""
        async with self._runtime.sessions() as session:
            row = (await session.execute(
                select(Message.created_at, Message.inline_state, Message.conversation_id)
                .where(Message.id == message_id))).first()
        if row is None or row.inline_state is None:
            return []
        wait = budget_s + REPEAT_GRACE_S - (utcnow() - row.created_at).total_seconds()
        if wait > 0:  # the first request may still be waiting: let it finish first
            await asyncio.sleep(min(wait, budget_s + REPEAT_GRACE_S))
        async with unit_of_work(self._runtime.sessions) as session:
            gave_up = await _give_up(session, message_id)
            if not gave_up:
                state = await session.scalar(
                    select(Message.inline_state).where(Message.id == message_id))
                if state != "answered":
                    return []
                ready = await _take(session, message_id, "queued")
        if gave_up:
            # Nobody handled it yet, and the first request may have died with its handling
            # (handled in a process that was killed): a job, so a worker handles it now
            # rather than at the next sweep. Its replies go by REST; a spare job is a no-op.
            # After the give-up commits: a handler that still saw "waiting" would hold the
            # replies for a request that is gone.
            await flows.queue_handling(self._runtime, row.conversation_id, message_id)
            return []
        if ready:
            await self.write_notes()  # an answer from this process is noted before we look
            if await self._runtime.dedupe.seen(_answered_key(message_id)):
                return []  # an answer carried them (Twilio sent this one anyway, or a test did)
        return ready

    async def answered(self, message_id: int) -> None:
        """The webhook's answer with this message's replies has been written: a repeat
        delivery now carries nothing. Called after the response, never before it; the note
        is written with the others of the next NOTE_EVERY_S (`write_notes`).

        The answer has left whatever happens to the note: if it cannot be written (Redis
        down, or the process dies within those milliseconds), only a repeat that Twilio
        sends after receiving the answer, which it does not do, would carry the replies
        again; so it is logged, never raised into a request that is over."""
        self._notes.append(_answered_key(message_id))
        if self._writing is None or self._writing.done():
            self._writing = asyncio.create_task(self._write_soon(), name="inline-notes")

    async def _write_soon(self) -> None:
        await asyncio.sleep(NOTE_EVERY_S)
        await self.write_notes()

    async def close(self) -> None:
        """The process stops: the notes of the answers given are written (the batch under
        way finishes, at most NOTE_EVERY_S from now; it never raises)."""
        if self._writing is not None:
            with suppress(asyncio.CancelledError):
                await self._writing
        await self.write_notes()

    async def write_notes(self) -> None:
        """Write the notes of the answers given so far."""
        notes, self._notes = self._notes, []
        if not notes:
            return
        try:
            await self._runtime.dedupe.note_all(notes, ttl_s=ANSWERED_TTL_S)
        except Exception:
            log.warning("could not note that %d answers carried their replies", len(notes),
                        exc_info=True)

    def forget(self, message_id: int) -> None:
        self._waiters.pop(message_id, None)


def _answered_key(message_id: int) -> str:
    return f"inline-answered:{message_id}"


async def _give_up(session: Any, message_id: int) -> bool:
    """Still waiting (not handled): from now on its replies go by the channel sender."""
    gave_up = await session.execute(
        update(Message)
        .where(Message.id == message_id, Message.inline_state == "waiting")
        .values(inline_state="gave_up")
        .execution_options(synchronize_session=False))
    return bool(gave_up.rowcount == 1)


async def _mark(session: Any, ids: list[int], status: str) -> None:
    await session.execute(
        update(Message).where(Message.id.in_(ids))
        .values(status=status, status_rank=status_rank(status), status_at=utcnow())
        .execution_options(synchronize_session=False))


async def _take(session: Any, message_id: int, deliver_as: str) -> list[InlineReply]:
    """The replies of an answered message that ride this webhook's response."""
    handed = list(await session.scalars(
        select(Message).where(Message.reply_to_id == message_id, Message.status == "queued",
                              Message.external_id.is_(None), Message.sent_at.is_(None))
        .order_by(Message.id)))
    if handed and deliver_as != "queued":
        await _mark(session, [m.id for m in handed], deliver_as)
    # Send-time consent check and the hand-over of held replies in two statements, whatever
    # their number: opted-out recipients get only the compliance confirmation.
    now = utcnow()
    opted_out = compliance.opted_out(Message.recipient)
    held = sorted(await session.scalars(
        update(Message)
        .where(Message.reply_to_id == message_id, Message.status == "held",
               or_(Message.purpose == "compliance", ~opted_out))
        .values(status=deliver_as, status_rank=status_rank(deliver_as), status_at=now)
        .returning(Message)
        .execution_options(synchronize_session=False)), key=lambda m: m.id)
    await session.execute(
        update(Message)
        .where(Message.reply_to_id == message_id, Message.status == "held")
        .values(status="suppressed", status_rank=status_rank("suppressed"), status_at=now)
        .execution_options(synchronize_session=False))
    return [InlineReply.of(m) for m in handed + held]
