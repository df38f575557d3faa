"""A worker loop over a DurableQueue stream: read, handle concurrently, ack after success,
re-take what a dead worker left pending. Used by the inbound and outbound pipelines."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from core.ports import Delivery, DurableQueue

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[None]]


def consumer_name(role: str) -> str:
    """Unique per process, stable for its life: Redis keeps pending entries per consumer."""
    return f"{role}-{socket.gethostname()}-{os.getpid()}"


async def consume(queue: DurableQueue, *, stream: str, group: str, consumer: str,
                  handle: Handler, concurrency: int = 32, stale_after_ms: int = 60_000,
                  max_attempts: int = 5, stop: asyncio.Event | None = None) -> None:
    """Run until `stop` is set (or cancelled). A failed entry stays pending and is retried by
    the stale-claim pass, at most `max_attempts` times, then acked and logged as dropped
    so one poisoned job cannot block a stream forever."""
    stop = stop or asyncio.Event()
    slots = asyncio.Semaphore(concurrency)
    running: set[asyncio.Task[None]] = set()
    loop = asyncio.get_running_loop()
    next_claim = loop.time()

    async def run(delivery: Delivery) -> None:
        try:
            if delivery.attempts > max_attempts:
                log.error("dropping %s entry %s after %d attempts: %s", stream, delivery.id,
                          delivery.attempts - 1, delivery.payload)
            else:
                await handle(delivery.payload)
            await queue.ack(stream, group, delivery.id)
        except asyncio.CancelledError:
            raise
        except Exception:  # retried by claim_stale, never silently lost
            log.exception("%s entry %s failed (attempt %d)", stream, delivery.id,
                          delivery.attempts)
        finally:
            slots.release()

    backoff = 0.0
    try:
        while not stop.is_set():
            batch: list[Delivery] = []
            try:
                if loop.time() >= next_claim:
                    next_claim = loop.time() + stale_after_ms / 2000
                    batch = await queue.claim_stale(stream, group, consumer,
                                                    min_idle_ms=stale_after_ms,
                                                    count=concurrency)
                if not batch:
                    free = max(1, concurrency - len(running))
                    batch = await queue.read(stream, group, consumer, count=free, block_ms=500)
                backoff = 0.0
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis restarted, stream deleted: keep the worker alive
                backoff = min(5.0, backoff * 2 or 0.1)
                log.exception("reading %s failed; retrying in %.1f s", stream, backoff)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=backoff)
                continue
            for delivery in batch:
                await slots.acquire()
                task = asyncio.create_task(run(delivery))
                running.add(task)
                task.add_done_callback(running.discard)
    finally:
        if running:
            await asyncio.gather(*running, return_exceptions=True)

