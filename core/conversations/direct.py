"""Handling a message in the process that received it, when that process has room.

The durable job (the inbound stream, read by workers) costs a message an enqueue, a worker's
read and ack, and a hop between processes before the bot even starts: on a busy machine that
is about a third of the CPU a message takes. A webhook that just committed its message
usually has the bot right here, idle: so when a slot is free (or frees up soon) it handles
the message itself, under the same conversation lock and through the same
`handle_conversation` a worker runs, and the job is never written. Order and exactly-once stay
the lock's and the handled mark's job, as before: whoever takes the lock first handles the
oldest unhandled message first.

Nothing is lost if this process dies mid-handling: the message is committed and unhandled,
and the workers' sweep (`flows.requeue_unhandled`) queues it after 30 s. If handling here
fails, the job is queued at once, as if it had never been tried here; if that fails too
(Redis is gone), the webhook waiting for the message answers 503, so the sender retries. A
message that waited for a slot and did not get one within `wait_s` is queued too: a worker
may be idle.

The message's own announcement (MessageReceived) rides the handling's first publish, one bus
round trip for both; a message not handled here is announced when its job is queued.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from core.conversations import flows, service
from core.conversations.ports import Responder
from core.events import DomainEvent
from core.runtime import Runtime

log = logging.getLogger(__name__)

EXTRA = "direct_handling"  # where the process's DirectHandling lives in runtime.extras


class DirectHandling:
    """One per API process: at most `slots` messages handled here at once.

    A message that finds every slot taken waits for one, up to `wait_s`, rather than going
    to the workers at once: a burst (64 phones on 2 API processes) would otherwise send most
    of its messages through the durable queue, which costs each about 1.5 ms more CPU than
    handling here, on the same cores. At most `slots * WAITING_PER_SLOT` wait; past that, or
    past `wait_s`, the job is queued as before."""

    WAITING_PER_SLOT = 4

    def __init__(self, runtime: Runtime, responder: Responder, *, slots: int,
                 wait_s: float = 0.5) -> None:
        self._runtime = runtime
        self._responder = responder
        self._slots = slots
        self._free = asyncio.Semaphore(slots) if slots > 0 else None
        self._wait_s = wait_s
        self._closed = False
        self._running: set[asyncio.Task[None]] = set()

    @property
    def running(self) -> int:
        return len(self._running)

    def take(self, intake: service.Intake, announce: list[DomainEvent]) -> bool:
        """Handle the message here, now or when a slot frees up; False: queue its job.
        True: `announce` (intake's events) is published here too, with the handling's."""
        if self._closed or self._free is None:
            return False
        if self._free.locked() and \
                len(self._running) >= self._slots * (1 + self.WAITING_PER_SLOT):
            return False
        task = asyncio.create_task(self._handle(intake, list(announce)),
                                   name=f"direct-{intake.message_id}")
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return True

    async def _handle(self, intake: service.Intake, announce: list[DomainEvent]) -> None:
        assert self._free is not None
        conversation_id, message_id = intake.conversation_id, intake.message_id
        try:
            async with asyncio.timeout(self._wait_s):
                await self._free.acquire()
        except TimeoutError:
            await self._queue(conversation_id, message_id, announce)
            return
        try:
            if self._closed:  # shutting down while it waited: the workers take it
                await self._queue(conversation_id, message_id, announce)
                return
            # The first commit of this handling publishes `announce` with its own events.
            await flows.handle_conversation(self._runtime, conversation_id, self._responder,
                                            message_id=message_id, pending=intake.pending,
                                            announce=announce)
        except Exception:  # the lock or the database failed: a worker tries again
            log.exception("handling message %s here failed; queueing it", message_id)
            await self._queue(conversation_id, message_id, announce)
        finally:
            self._free.release()
        if announce:  # nothing was handled here (someone else had): announce it anyway
            await self._announce(announce)

    async def _queue(self, conversation_id: int, message_id: int,
                     announce: list[DomainEvent]) -> None:
        try:
            await flows.queue_handling(self._runtime, conversation_id, message_id)
        except Exception as error:
            # The sweep finds it, committed and unhandled; but that is a minute away, so the
            # webhook waiting for it answers 503 now and its sender delivers it again.
            log.exception("could not queue message %s either", message_id)
            answers = self._runtime.extras.get(flows.INLINE_ANSWERS)
            if answers is not None:
                answers.fail_here(message_id, error)
        await self._announce(announce)

    async def _announce(self, announce: list[DomainEvent]) -> None:
        events = list(announce)
        announce.clear()
        try:
            await flows.publish(self._runtime, events)
        except Exception:  # live views miss it; the message itself is stored and handled
            log.exception("could not announce %d events", len(events))

    async def close(self, *, timeout_s: float = 20.0) -> None:
        """Take no more, and let what is in hand finish (a bot turn takes milliseconds; one
        waiting on a conversation lock may take longer: past the timeout it is cancelled,
        its transaction rolls back, and the sweep re-queues the message). Those still
        waiting for a slot are queued for the workers."""
        self._closed = True
        if not self._running:
            return
        _, pending = await asyncio.wait(set(self._running), timeout=timeout_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


def handle_here(runtime: Runtime
                ) -> Callable[[service.Intake, list[DomainEvent]], bool] | None:
    """For `flows.intake`: this process's direct handling, if it runs one (API processes do,
    channels.pipeline.serving starts it)."""
    direct: DirectHandling | None = runtime.extras.get(EXTRA)
    return direct.take if direct is not None else None
