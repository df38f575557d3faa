"""Runs the message pipeline's background side: the workers that handle inbound messages in
order and deliver replies, and the per-process listener that wakes inline webhook answers.

Embedded mode runs it all inside the API process (`serving`); production runs `work` in
`stormdesk worker` processes, any number, against the same PostgreSQL and Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from typing import Any

from channels.base import SenderTable, deliver
from core.conversations import flows
from core.conversations.consumer import consume, consumer_name
from core.conversations.direct import EXTRA, DirectHandling
from core.conversations.inline import InlineAnswers
from core.conversations.ports import Responder
from core.conversations.responder import KeywordResponder
from core.runtime import Runtime

log = logging.getLogger(__name__)

SWEEP_EVERY_S = 30.0
DEFAULT_CONCURRENCY = 16  # PostgreSQL pool: 20 + 10 overflow per process (core/db.py)
EMBEDDED_CONCURRENCY = 8  # SQLite pool: 5 + 10, shared with the webhooks in the same process
# Embedded, the webhooks' own handling shares that pool with the workers: 8 + 4 handlers leave
# room for the webhooks and for a handler's second session (see run_workers).
EMBEDDED_DIRECT_SLOTS = 4


def responder_for(runtime: Runtime) -> Responder:
    """The bot the composition root wired, else the keyword responder over bot/nlu."""
    found = runtime.extras.get("responder")
    if found is not None:
        return found
    from bot.nlu.keywords import match_keyword

    def intent_of(text: str) -> str | None:
        result = match_keyword(text)
        return result.intent if result else None

    responder = KeywordResponder(utility_name=runtime.settings.utility_name,
                                 utility_phone=runtime.settings.utility_phone,
                                 intent_of=intent_of)
    runtime.extras["responder"] = responder
    return responder


def senders_for(runtime: Runtime) -> SenderTable:
    table = runtime.extras.get("sender_table")
    if table is None:
        table = SenderTable(runtime.extras.get("senders") or {})
        runtime.extras["sender_table"] = table
    return table


async def run_workers(runtime: Runtime, stop: asyncio.Event, *,
                      concurrency: int = DEFAULT_CONCURRENCY) -> None:
    """Inbound handling, outbound delivery and the sweep for anything left behind.

    Keep `concurrency` below the process's database pool size: a handler holds a connection
    while the bot runs, and a bot step that opens a second session (the console's queue
    estimate does) would otherwise wait forever on a pool every handler holds."""
    responder = responder_for(runtime)
    senders = senders_for(runtime)
    name = consumer_name("worker")

    async def on_inbound(payload: dict[str, Any]) -> None:
        await flows.handle_conversation(runtime, int(payload["conversation_id"]), responder,
                                        message_id=int(payload.get("message_id") or 0))

    async def on_outbound(payload: dict[str, Any]) -> None:
        await deliver(runtime, int(payload["message_id"]), senders)

    async def sweep() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=SWEEP_EVERY_S)
                return
            try:
                if found := await flows.requeue_unhandled(runtime):
                    log.warning("re-queued %d conversations with unhandled messages", found)
                if found := await flows.requeue_unsent(runtime):
                    log.warning("re-queued %d replies never sent", found)
            except Exception:  # the next sweep tries again
                log.exception("sweep for unhandled messages failed")

    await asyncio.gather(
        consume(runtime.queue, stream=flows.INBOUND_STREAM, group=flows.WORKER_GROUP,
                consumer=name, handle=on_inbound, concurrency=concurrency, stop=stop),
        consume(runtime.queue, stream=flows.OUTBOUND_STREAM, group=flows.WORKER_GROUP,
                consumer=name, handle=on_outbound, concurrency=concurrency, stop=stop),
        sweep(),
    )


@contextlib.asynccontextmanager
async def serving(runtime: Runtime, *, workers: bool | None = None) -> AsyncIterator[None]:
    """For the API process: the inline-answer listener, handling here while there is room,
    and in embedded mode the workers."""
    answers = InlineAnswers(runtime)
    runtime.extras[flows.INLINE_ANSWERS] = answers
    in_process = runtime.settings.embedded if workers is None else workers
    slots = runtime.settings.direct_slots
    direct = DirectHandling(runtime, responder_for(runtime),
                            slots=min(slots, EMBEDDED_DIRECT_SLOTS) if in_process else slots,
                            wait_s=runtime.settings.direct_wait_s)
    if slots:
        runtime.extras[EXTRA] = direct
    stop = asyncio.Event()
    tasks = [asyncio.create_task(answers.listen(), name="inline-answers")]
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(answers.listening.wait(), timeout=5.0)
    if in_process:
        tasks.append(asyncio.create_task(
            run_workers(runtime, stop, concurrency=EMBEDDED_CONCURRENCY),
            name="pipeline-workers"))
    try:
        yield
    finally:
        runtime.extras.pop(EXTRA, None)
        # Before the listener stops: what is handled here may still wake a webhook.
        await direct.close()
        await answers.close()  # notes the answers already given, before the bus goes
        stop.set()
        tasks[0].cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        runtime.extras.pop(flows.INLINE_ANSWERS, None)


async def work(runtime: Runtime, *, concurrency: int = DEFAULT_CONCURRENCY) -> None:
    """`stormdesk worker`: run until SIGTERM/SIGINT, then finish what is in hand and stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    log.info("worker %s started", consumer_name("worker"))
    await run_workers(runtime, stop, concurrency=concurrency)
