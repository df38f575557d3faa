"""The worker loop: acks after success, leaves failures pending for a retry, survives a queue
that errors (Redis restarted, stream deleted) instead of ending the worker."""

from __future__ import annotations

import asyncio
from typing import Any

from core.conversations.consumer import consume
from core.local import LocalQueue
from core.ports import Delivery


class FlakyQueue(LocalQueue):
    """A LocalQueue whose first read fails the way a deleted Redis stream does."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 1

    async def read(self, stream: str, group: str, consumer: str, *, count: int = 10,
                   block_ms: int = 1000) -> list[Delivery]:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("UNBLOCKED the stream key no longer exists")
        return await super().read(stream, group, consumer, count=count, block_ms=block_ms)


async def test_survives_a_failing_read_and_acks_what_it_handled() -> None:
    queue = FlakyQueue()
    await queue.enqueue("s", {"n": 1})
    await queue.enqueue("s", {"n": 2})
    handled: list[int] = []
    stop = asyncio.Event()

    async def handle(payload: dict[str, Any]) -> None:
        handled.append(payload["n"])
        if len(handled) == 2:
            stop.set()

    async with asyncio.timeout(10):
        await consume(queue, stream="s", group="g", consumer="c", handle=handle, stop=stop)
    assert sorted(handled) == [1, 2]
    assert await queue.pending_count("s", "g") == 0


async def test_a_failing_handler_leaves_the_entry_pending() -> None:
    queue = LocalQueue()
    await queue.enqueue("s", {"n": 1})
    stop = asyncio.Event()

    async def handle(payload: dict[str, Any]) -> None:
        stop.set()
        raise RuntimeError("bot down")

    async with asyncio.timeout(10):
        await consume(queue, stream="s", group="g", consumer="c", handle=handle, stop=stop)
    assert await queue.pending_count("s", "g") == 1
