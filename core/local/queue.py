"""In-process DurableQueue that mirrors Redis Streams consumer-group semantics exactly enough
that code tested against it behaves the same on Redis: at-least-once, pending until acked."""

from __future__ import annotations

import asyncio
import json
import time
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

from core.ports import Delivery

_EntryId = tuple[int, int]


def _parse_id(entry_id: str) -> _EntryId:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _format_id(entry_id: _EntryId) -> str:
    return f"{entry_id[0]}-{entry_id[1]}"


@dataclass(slots=True)
class _Pending:
    consumer: str
    delivered_at: float
    deliveries: int


@dataclass(slots=True)
class _Group:
    last_delivered: _EntryId = (0, 0)
    # Insertion order is id order: new deliveries always come after every earlier one.
    pending: dict[_EntryId, _Pending] = field(default_factory=dict)


@dataclass(slots=True)
class _Stream:
    ids: list[_EntryId] = field(default_factory=list)
    payloads: dict[_EntryId, str] = field(default_factory=dict)
    groups: dict[str, _Group] = field(default_factory=dict)
    last_id: _EntryId = (0, 0)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)


class LocalQueue:
    """Streams with consumer groups, in memory. Ids look like Redis ids (`<ms>-<seq>`).

    Like Redis: a group created by its first `read` starts at the beginning of the stream, so
    nothing enqueued before a worker started is lost; `read` hands out only never-delivered
    entries; an unacked entry stays pending on its consumer until `claim_stale` moves it, which
    counts another delivery. Unlike Redis, entries every group has acked are dropped to bound
    memory, so a group created later will not see them."""

    def __init__(self) -> None:
        self._streams: dict[str, _Stream] = {}
        self._closed = False

    async def enqueue(self, stream: str, payload: dict[str, Any]) -> str:
        if self._closed:
            raise RuntimeError("queue is closed")
        wire = json.dumps(payload)  # fail here, as on Redis, for anything not JSON-safe
        s = self._streams.setdefault(stream, _Stream())
        now_ms = time.time_ns() // 1_000_000
        entry_id = (now_ms, 0) if now_ms > s.last_id[0] else (s.last_id[0], s.last_id[1] + 1)
        s.last_id = entry_id
        s.ids.append(entry_id)
        s.payloads[entry_id] = wire
        s.arrived.set()
        s.arrived = asyncio.Event()
        return _format_id(entry_id)

    async def read(
        self, stream: str, group: str, consumer: str, *, count: int = 10, block_ms: int = 1000
    ) -> list[Delivery]:
        s = self._streams.setdefault(stream, _Stream())
        g = s.groups.setdefault(group, _Group())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + block_ms / 1000
        # Yield once, as a round trip to Redis would, so one busy worker cannot starve the others.
        await asyncio.sleep(0)
        while True:
            if self._closed:
                return []
            batch = self._deliver_new(s, g, consumer, count, loop.time())
            remaining = deadline - loop.time()
            if batch or remaining <= 0:
                return batch
            arrived = s.arrived
            try:
                async with asyncio.timeout(remaining):
                    await arrived.wait()
            except TimeoutError:
                return []

    async def ack(self, stream: str, group: str, delivery_id: str) -> None:
        s = self._streams.get(stream)
        g = s.groups.get(group) if s else None
        if s is None or g is None:
            return
        g.pending.pop(_parse_id(delivery_id), None)
        self._collect(s)

    async def claim_stale(
        self, stream: str, group: str, consumer: str, *, min_idle_ms: int, count: int = 100
    ) -> list[Delivery]:
        s = self._streams.setdefault(stream, _Stream())
        g = s.groups.setdefault(group, _Group())
        now = asyncio.get_running_loop().time()
        claimed: list[Delivery] = []
        for entry_id, held in g.pending.items():
            if len(claimed) >= count:
                break
            if (now - held.delivered_at) * 1000 < min_idle_ms:
                continue
            held.consumer, held.delivered_at = consumer, now
            held.deliveries += 1
            claimed.append(self._delivery(s, entry_id, held.deliveries))
        return claimed

    async def pending_count(self, stream: str, group: str) -> int:
        s = self._streams.get(stream)
        g = s.groups.get(group) if s else None
        return len(g.pending) if g else 0

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for s in self._streams.values():
            s.arrived.set()  # wake blocked readers so they return [] now

    def _deliver_new(
        self, s: _Stream, g: _Group, consumer: str, count: int, now: float
    ) -> list[Delivery]:
        start = bisect_right(s.ids, g.last_delivered)
        batch: list[Delivery] = []
        for entry_id in s.ids[start : start + count]:
            g.pending[entry_id] = _Pending(consumer=consumer, delivered_at=now, deliveries=1)
            g.last_delivered = entry_id
            batch.append(self._delivery(s, entry_id, 1))
        return batch

    @staticmethod
    def _delivery(s: _Stream, entry_id: _EntryId, attempts: int) -> Delivery:
        return Delivery(
            id=_format_id(entry_id), payload=json.loads(s.payloads[entry_id]), attempts=attempts
        )

    @staticmethod
    def _collect(s: _Stream) -> None:
        """Drop the prefix of entries every group has both been handed and acked."""
        if not s.groups:
            return
        floor = min(g.last_delivered for g in s.groups.values())
        done = 0
        for entry_id in s.ids:
            if entry_id > floor or any(entry_id in g.pending for g in s.groups.values()):
                break
            done += 1
        for entry_id in s.ids[:done]:
            del s.payloads[entry_id]
        del s.ids[:done]
