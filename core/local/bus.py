"""In-process EventBus: fan-out to every live subscription of a topic, inside one event loop."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from typing import Any

from core.ports import Hold

log = logging.getLogger(__name__)

_CLOSED = object()


class LocalEventBus:
    """Pub/sub for the embedded default; same semantics as Redis pub/sub (no replay, no ack).

    Payloads go through JSON like on Redis, so an event that would not survive the wire fails
    here too, and a subscriber can never mutate what another one receives. A subscriber that
    falls `max_backlog` events behind loses the oldest ones (Redis would disconnect it)."""

    def __init__(self, *, max_backlog: int = 1000) -> None:
        self._max_backlog = max_backlog
        self._inboxes: dict[str, set[asyncio.Queue[Any]]] = {}
        self._closed = False

    async def publish(self, topic: str, payload: dict[str, Any]) -> None:
        if self._closed:
            raise RuntimeError("event bus is closed")
        wire = json.dumps(payload)
        for inbox in tuple(self._inboxes.get(topic, ())):
            if inbox.full():
                inbox.get_nowait()
                log.warning("bus subscriber on %r is %d events behind; dropped the oldest",
                            topic, self._max_backlog)
            inbox.put_nowait(json.loads(wire))

    async def publish_many(self, events: Sequence[tuple[str, dict[str, Any]]], *,
                           release: Hold | None = None) -> None:
        for topic, payload in events:
            await self.publish(topic, payload)
        if release is not None:
            await release.release()

    @asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        if self._closed:
            raise RuntimeError("event bus is closed")
        inbox: asyncio.Queue[Any] = asyncio.Queue(maxsize=self._max_backlog)
        self._inboxes.setdefault(topic, set()).add(inbox)
        events = self._drain(inbox)
        try:
            yield events
        finally:
            subscribers = self._inboxes.get(topic)
            if subscribers is not None:
                subscribers.discard(inbox)
                if not subscribers:
                    del self._inboxes[topic]
            self._end(inbox)
            # Fails only if another task is mid-iteration; the end marker stops that one.
            with suppress(RuntimeError):
                await events.aclose()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for subscribers in self._inboxes.values():
            for inbox in subscribers:
                self._end(inbox)
        self._inboxes.clear()

    @staticmethod
    def _end(inbox: asyncio.Queue[Any]) -> None:
        if inbox.full():
            inbox.get_nowait()
        inbox.put_nowait(_CLOSED)

    @staticmethod
    async def _drain(inbox: asyncio.Queue[Any]) -> AsyncIterator[dict[str, Any]]:
        while True:
            item = await inbox.get()
            if item is _CLOSED:
                return
            yield item
