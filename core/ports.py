"""Ports: what the core needs from outside, as protocols. Adapters live elsewhere:
in-process ones in `core/local/` (the embedded default), Redis ones in `integrations/redis/`.
Every adapter passes the same contract tests (tests/integration/test_ports_contract.py).

How to implement one: keep every method safe to call from many tasks at once, never block the
event loop, and make `close()` idempotent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Delivery:
    """One entry read from a durable queue; ack it by `id` once the work is done."""

    id: str
    payload: dict[str, Any]
    attempts: int = 1
    extra: dict[str, Any] = field(default_factory=dict)


class EventBus(Protocol):
    """Fire-and-forget fan-out (pub/sub): every current subscriber of a topic gets each event."""

    async def publish(self, topic: str, payload: dict[str, Any]) -> None: ...

    async def publish_many(self, events: Sequence[tuple[str, dict[str, Any]]], *,
                           release: Hold | None = None) -> None:
        """`publish` each (topic, payload) in order, in one round trip where the bus has them;
        then give back `release`, a hold of the same runtime's Lock (a Redis bus does it in
        that round trip when the lock lives on its server): whoever takes that lock next is
        after these events."""
        ...

    def subscribe(self, topic: str) -> AbstractAsyncContextManager[AsyncIterator[dict[str, Any]]]: ...

    async def close(self) -> None: ...


class DurableQueue(Protocol):
    """At-least-once work queue with consumer groups: entries survive until acknowledged,
    and an entry a dead consumer held is re-taken by `claim_stale`."""

    async def enqueue(self, stream: str, payload: dict[str, Any]) -> str: ...

    async def read(
        self, stream: str, group: str, consumer: str, *, count: int = 10, block_ms: int = 1000
    ) -> list[Delivery]: ...

    async def ack(self, stream: str, group: str, delivery_id: str) -> None: ...

    async def claim_stale(
        self, stream: str, group: str, consumer: str, *, min_idle_ms: int, count: int = 100
    ) -> list[Delivery]: ...

    async def pending_count(self, stream: str, group: str) -> int: ...

    async def close(self) -> None: ...


class Hold(Protocol):
    """A lock being held (what `Lock.hold` yields). `release()` gives it back before the block
    ends, at most once (the block's end then does nothing); False if it had expired and may
    have been taken over. `released` says whether it was given back."""

    released: bool

    async def release(self) -> bool: ...


class Lock(Protocol):
    """Mutual exclusion by key across tasks (and, for Redis, processes).

    `hold` waits up to `wait_s` for the key, raises TimeoutError if it cannot get it, and
    releases on exit unless the hold was released already; `ttl_s` bounds how long a crashed
    holder can keep it."""

    def hold(
        self, key: str, *, ttl_s: float = 30.0, wait_s: float = 10.0
    ) -> AbstractAsyncContextManager[Hold]: ...

    async def close(self) -> None: ...


class RateLimiter(Protocol):
    """Token bucket per key: `rate` tokens per second, up to `burst` saved up.

    `try_acquire` takes a token and returns 0.0, or takes nothing and returns how many seconds
    until one is free. `acquire` waits (without blocking the loop) until it gets one."""

    async def try_acquire(self, key: str, *, rate: float, burst: int, tokens: int = 1) -> float: ...

    async def acquire(self, key: str, *, rate: float, burst: int, tokens: int = 1) -> None: ...

    async def close(self) -> None: ...


class Dedupe(Protocol):
    """`first_time(key)` is True exactly once per key within `ttl_s` across all callers;
    `seen(key)` says whether some caller has set it (within its TTL), without setting it;
    `note_all(keys)` sets each key (a later `first_time` is False), in one round trip."""

    async def first_time(self, key: str, *, ttl_s: float = 86400.0) -> bool: ...

    async def note_all(self, keys: Sequence[str], *, ttl_s: float = 86400.0) -> None: ...

    async def seen(self, key: str) -> bool: ...

    async def close(self) -> None: ...


async def _always_ready() -> bool:
    return True


@dataclass(slots=True, eq=False)
class Ports:
    """The five shared-state ports built together, so the composition root wires one object
    whether they are in-process or Redis (`core.local.local_ports`, `integrations.redis.redis_ports`).

    `ready()` answers the readiness probe; `close()` closes every port, then whatever the
    builder owns (e.g. the Redis connection pool), and is idempotent."""

    bus: EventBus
    queue: DurableQueue
    lock: Lock
    limiter: RateLimiter
    dedupe: Dedupe
    probe: Callable[[], Awaitable[bool]] = _always_ready
    on_close: tuple[Callable[[], Awaitable[None]], ...] = ()
    _closed: bool = False

    async def ready(self) -> bool:
        return await self.probe()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for port in (self.bus, self.queue, self.lock, self.limiter, self.dedupe):
            await port.close()
        for closer in self.on_close:
            await closer()
