"""Inline answers: let the request that delivered a message carry the bot's reply, when the
bot is quick enough (Twilio reads TwiML from the webhook response; it waits up to 15 s).

The webhook registers a waiter before the handling job is queued; the handler marks the
message "answered" in its transaction and announces it on the bus after commit; the webhook
wakes, takes the held replies and puts them in its response. At the budget it marks the
message "gave_up" instead, and the replies go by REST. Whichever conditional update wins
decides, so a reply is sent exactly one way even if the announcement is lost.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

from sqlalchemy import exists, or_, update

from core.clock import utcnow
from core.consent.models import OptOut
from core.conversations.flows import INLINE_TOPIC
from core.conversations.models import Message
from core.conversations.policy import status_rank
from core.db import unit_of_work
from core.runtime import Runtime

log = logging.getLogger(__name__)


class InlineAnswers:
    """One per process: a bus listener that wakes the webhook requests waiting in it."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._waiters: dict[int, asyncio.Future[None]] = {}
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
                            waiter.set_result(None)
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
                      deliver_as: str = "queued") -> list[Message]:
        """The replies to send inline now (marked `deliver_as`), or [] if the budget ran out
        first. Checks consent at this moment: an opted-out number gets only the confirmation."""
        waiter = self._waiters.get(message_id)
        answered = False
        if waiter is not None:
            with suppress(TimeoutError):
                await asyncio.wait_for(waiter, timeout=budget_s)
                answered = True
            self._waiters.pop(message_id, None)
        async with unit_of_work(self._runtime.sessions) as session:
            if not answered:
                gave_up = await session.execute(
                    update(Message)
                    .where(Message.id == message_id, Message.inline_state == "waiting")
                    .values(inline_state="gave_up")
                    .execution_options(synchronize_session=False))
                if gave_up.rowcount == 1:
                    return []
            # Send-time consent check and the hand-over in two statements, whatever the
            # number of replies: opted-out recipients get only the compliance confirmation.
            now = utcnow()
            opted_out = exists().where(OptOut.address == Message.recipient,
                                       OptOut.opted_out.is_(True))
            ready = sorted(await session.scalars(
                update(Message)
                .where(Message.reply_to_id == message_id, Message.status == "held",
                       or_(Message.purpose == "compliance", ~opted_out))
                .values(status=deliver_as, status_rank=status_rank(deliver_as), status_at=now)
                .returning(Message)
                .execution_options(synchronize_session=False)), key=lambda m: m.id)
            await session.execute(
                update(Message)
                .where(Message.reply_to_id == message_id, Message.status == "held")
                .values(status="suppressed", status_rank=status_rank("suppressed"),
                        status_at=now)
                .execution_options(synchronize_session=False))
            return ready

    def forget(self, message_id: int) -> None:
        self._waiters.pop(message_id, None)

