"""The notice side of a worker process: relay, catch-up planning, and senders consuming the
notice stream. Runs in every `stormdesk worker` (and inside the API process when embedded);
any number of them share the work through the queue's consumer group and the relay lock."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from core.conversations.consumer import consumer_name
from core.conversations.flows import INBOUND_STREAM, WORKER_GROUP
from core.notifications.dispatch import NOTICE_GROUP, NOTICE_STREAM, NoticeDispatcher
from core.notifications.policy import NoticePolicy
from core.notifications.ports import NoticeSender
from core.notifications.relay import relay_once, requeue_stuck, sweep_plans
from core.ports import Delivery
from core.runtime import Runtime

log = logging.getLogger(__name__)

RELAY_EVERY_S = 0.5
SWEEP_EVERY_S = 10.0
RELAY_LOCK = "notices:relay"
# Bulk yields to inbound customer messages being handled, but never for longer than this at
# a time: a storm of OUT texts must not stop the notices that answer most of them.
YIELD_AT_MOST_S = 2.0
MAX_CHUNK_ATTEMPTS = 10


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def run_relay(runtime: Runtime, policy: NoticePolicy, stop: asyncio.Event) -> None:
    """One relay at a time across processes (the lock); the others wait their turn."""
    next_sweep = 0.0
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        moved = 0
        try:
            async with runtime.lock.hold(RELAY_LOCK, ttl_s=30.0, wait_s=0.1):
                if loop.time() >= next_sweep:
                    next_sweep = loop.time() + SWEEP_EVERY_S
                    if planned := await sweep_plans(runtime, policy):
                        log.info("catch-up planning wrote %d notices", planned)
                    await requeue_stuck(runtime, policy)
                moved = await relay_once(runtime, policy)
        except TimeoutError:
            pass  # another process is relaying
        except Exception:  # the next pass tries again
            log.exception("notice relay pass failed")
        if not moved:
            await _pause(stop, RELAY_EVERY_S)


async def inbound_busy(runtime: Runtime) -> bool:
    """Customer messages are being handled right now (entries taken, not yet acknowledged)."""
    try:
        return await runtime.queue.pending_count(INBOUND_STREAM, WORKER_GROUP) > 0
    except Exception:  # noqa: BLE001 - a probe, never a reason to stop sending
        return False


async def run_senders(runtime: Runtime, policy: NoticePolicy,
                      senders: Mapping[str, NoticeSender], stop: asyncio.Event, *,
                      consumer: str | None = None) -> None:
    """Consume the notice stream: re-take stale entries of dead workers first, then new ones;
    acknowledge an entry once every notice in it has its outcome written."""
    dispatcher = NoticeDispatcher(runtime, policy, senders)
    runtime.extras["notice_dispatcher"] = dispatcher
    name = consumer or consumer_name("notices")
    # Twice the chunks that fill `in_flight`: while some wait on the database, others send.
    chunks = max(2, 2 * policy.in_flight // max(1, policy.chunk_size))
    slots = asyncio.Semaphore(chunks)
    running: set[asyncio.Task[None]] = set()
    stale_ms = int(policy.stale_claim.total_seconds() * 1000)
    loop = asyncio.get_running_loop()
    next_claim = loop.time()

    async def run(delivery: Delivery) -> None:
        try:
            if delivery.attempts > MAX_CHUNK_ATTEMPTS:
                # Its rows are still guarded in the table; the relay's sweep re-queues them.
                log.error("dropping notice chunk %s after %d attempts", delivery.id,
                          delivery.attempts - 1)
            else:
                done = await dispatcher.handle([int(i) for i in delivery.payload.get("ids", [])])
                if done.early:
                    return  # re-taken by claim_stale once its relay committed (or gave up)
            await runtime.queue.ack(NOTICE_STREAM, NOTICE_GROUP, delivery.id)
        except asyncio.CancelledError:
            raise
        except Exception:  # left pending: re-taken by claim_stale, rows stay guarded
            log.exception("notice chunk %s failed (attempt %d)", delivery.id, delivery.attempts)
        finally:
            slots.release()

    try:
        while not stop.is_set():
            waited = 0.0
            while waited < YIELD_AT_MOST_S and await inbound_busy(runtime):
                await _pause(stop, 0.05)
                waited += 0.05
            batch: list[Delivery] = []
            try:
                if loop.time() >= next_claim:
                    next_claim = loop.time() + stale_ms / 2000
                    batch = await runtime.queue.claim_stale(
                        NOTICE_STREAM, NOTICE_GROUP, name, min_idle_ms=stale_ms, count=chunks)
                if not batch:
                    free = max(1, chunks - len(running))
                    batch = await runtime.queue.read(NOTICE_STREAM, NOTICE_GROUP, name,
                                                     count=free, block_ms=500)
            except Exception:  # Redis restarting, a stream deleted under us: rows are safe in
                # the table and the relay re-queues them; keep the worker alive and retry
                log.exception("reading the notice stream failed")
                await _pause(stop, 1.0)
                continue
            for delivery in batch:
                await slots.acquire()
                task = asyncio.create_task(run(delivery))
                running.add(task)
                task.add_done_callback(running.discard)
    finally:
        if running:
            await asyncio.gather(*running, return_exceptions=True)


async def run_notice_workers(runtime: Runtime, policy: NoticePolicy,
                             senders: Mapping[str, NoticeSender], stop: asyncio.Event) -> None:
    await asyncio.gather(run_relay(runtime, policy, stop),
                         run_senders(runtime, policy, senders, stop))
