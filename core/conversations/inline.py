"""Inline answers: let the request that delivered a message carry the bot's reply, when the
bot is quick enough (Twilio reads TwiML from the webhook response; it waits up to 15 s).

The webhook registers a waiter before the handling job is queued; the handler marks the
message "answered" in its transaction, checks consent and marks text replies queued for the
webhook there too, and after commit announces them on the bus; the webhook wakes and puts
them in its response without a database round trip. At the budget it marks the message
"gave_up" instead, and the replies go by REST. Whichever conditional update wins decides, so
a reply is sent exactly one way even if the announcement is lost (then the webhook reads
what was handed to it).
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from typing import Any

from sqlalchemy import exists, or_, select, update

from core.clock import utcnow
from core.consent.models import OptOut
from core.conversations.flows import INLINE_TOPIC
from core.conversations.models import Message
from core.conversations.policy import status_rank
from core.conversations.schemas import InlineReply
from core.db import unit_of_work
from core.runtime import Runtime

log = logging.getLogger(__name__)


class InlineAnswers:
    """One per process: a bus listener that wakes the webhook requests waiting in it."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._waiters: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.listening = asyncio.Event()

    async def listen(self) -> None:
        """Run for the life of the process (stormdesk.hooks starts it)."""
        while True:
            try:
                async with self._runtime.bus.subscribe(INLINE_TOPIC) as events:
                    self.listening.set()
                    async for event in events:
                        waiter = self._waiters.get(int(event.get("message_id", 0)))
                        if waiter is not None and not waiter.done():
                            waiter.set_result(event)
                return
            except asyncio.CancelledError:
                raise
            except Exception:  # a bus hiccup must not end inline answers
                self.listening.clear()
                log.exception("inline-answer listener lost the bus; resubscribing")
                await asyncio.sleep(1.0)

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
            if wake is None:
                gave_up = await session.execute(
                    update(Message)
                    .where(Message.id == message_id, Message.inline_state == "waiting")
                    .values(inline_state="gave_up")
                    .execution_options(synchronize_session=False))
                if gave_up.rowcount == 1:
                    return []
            # Answered, but the wake-up was lost or came too late: the handler handed text
            # replies over (queued for us); anything it held instead is handed over here.
            return await _take(session, message_id, deliver_as)

    def forget(self, message_id: int) -> None:
        self._waiters.pop(message_id, None)


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
    opted_out = exists().where(OptOut.address == Message.recipient, OptOut.opted_out.is_(True))
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
