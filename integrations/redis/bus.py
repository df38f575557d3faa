"""EventBus on Redis pub/sub: fan-out across every process, nothing stored or replayed."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from core.ports import Hold
from integrations.redis.keys import namespaced
from integrations.redis.lock import RedisHold

log = logging.getLogger(__name__)

_LOST = (RedisConnectionError, RedisTimeoutError, OSError)


class _Subscription:
    """One pub/sub connection for one topic that re-subscribes by itself after Redis restarts
    (events published while it was away are lost, as pub/sub promises nothing more)."""

    def __init__(self, client: aioredis.Redis, channel: str, *, max_backoff_s: float) -> None:
        self._client = client
        self._channel = channel
        self._max_backoff_s = max_backoff_s
        self._pubsub: PubSub | None = None
        self.stopping = False

    async def open(self) -> None:
        self._pubsub = self._client.pubsub()
        await self._pubsub.subscribe(self._channel)
        # SUBSCRIBE is sent without waiting for its reply; until the server has processed it a
        # PUBLISH from another connection would miss us. Wait for the confirmation, so an event
        # published once `subscribe()` has been entered is always received.
        async with asyncio.timeout(10):
            while True:
                message = await self._pubsub.get_message(timeout=1.0)
                if message is not None and message["type"] == "subscribe":
                    return

    async def close(self) -> None:
        if self._pubsub is not None:
            with suppress(RedisError, OSError):
                await self._pubsub.aclose()  # drops the connection, and with it the subscription
            self._pubsub = None

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        backoff = 0.05
        while not self.stopping:
            try:
                if self._pubsub is None:
                    await self.open()
                    backoff = 0.05
                assert self._pubsub is not None
                # A timeout (not a blocking read) so `close()` on the bus ends us within 1 s.
                message = await self._pubsub.get_message(timeout=1.0)
            except _LOST as exc:
                if self.stopping:  # we closed it under this reader: not a lost connection
                    return
                log.warning("bus subscription to %s lost (%s); resubscribing", self._channel, exc)
                await self.close()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff_s)
                continue
            if message is not None and message["type"] == "message":
                yield json.loads(message["data"])


class RedisEventBus:
    """Topics are channels `<namespace>:bus:<topic>`; each subscription holds one connection."""

    def __init__(
        self, client: aioredis.Redis, *, namespace: str = "stormdesk", max_backoff_s: float = 5.0
    ) -> None:
        self._client = client
        self._namespace = namespace
        self._max_backoff_s = max_backoff_s
        self._subscriptions: set[_Subscription] = set()
        self._closed = False

    async def publish(self, topic: str, payload: dict[str, Any]) -> None:
        if self._closed:
            raise RuntimeError("event bus is closed")
        await self._client.publish(self._channel(topic), json.dumps(payload))

    async def publish_many(self, events: Sequence[tuple[str, dict[str, Any]]], *,
                           release: Hold | None = None) -> None:
        if self._closed:
            raise RuntimeError("event bus is closed")
        # The lock's release rides the same round trip when the lock is on this client (a
        # handler's last step: its events, then the conversation's lock).
        along = release if isinstance(release, RedisHold) and release.client is self._client \
            and not release.released else None
        if along is None and len(events) == 1:
            await self.publish(*events[0])
        elif along is not None or events:
            # One round trip for a handled message's wake-up, events and lock: each costs
            # ~0.1 ms of CPU. No MULTI: subscribers need order, not atomicity; the release
            # comes last, so the next holder is after these events.
            async with self._client.pipeline(transaction=False) as pipe:
                for topic, payload in events:
                    pipe.publish(self._channel(topic), json.dumps(payload))
                if along is not None:
                    pipe.execute_command(*along.release_command())
                replies = await pipe.execute(raise_on_error=along is None)
            if along is not None:
                await along.settle(replies[-1])  # first: the release did run, whatever else
                for reply in replies[:-1]:
                    if isinstance(reply, BaseException):
                        raise reply
        if release is not None and along is None:
            await release.release()

    @asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        if self._closed:
            raise RuntimeError("event bus is closed")
        subscription = _Subscription(
            self._client, self._channel(topic), max_backoff_s=self._max_backoff_s
        )
        await subscription.open()
        self._subscriptions.add(subscription)
        events = subscription.events()
        try:
            yield events
        finally:
            self._subscriptions.discard(subscription)
            subscription.stopping = True
            # Fails only if another task is mid-iteration; `stopping` ends that one.
            with suppress(RuntimeError):
                await events.aclose()
            await subscription.close()

    async def close(self) -> None:
        """Ends every open subscription's iteration (within a second); the client is not ours."""
        self._closed = True
        for subscription in self._subscriptions:
            subscription.stopping = True

    def _channel(self, topic: str) -> str:
        return namespaced(self._namespace, "bus", topic)
