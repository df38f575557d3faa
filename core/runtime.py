"""The running system's parts, as ports: built once by the composition root, handed to everyone."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.config import Settings
from core.ports import Dedupe, DurableQueue, EventBus, Lock, RateLimiter


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    bus: EventBus
    queue: DurableQueue
    lock: Lock
    limiter: RateLimiter
    dedupe: Dedupe
    # Readiness probes by name (database, redis, ...): each returns None or raises.
    probes: dict[str, Callable[[], Awaitable[None]]] = field(default_factory=dict)
    # Adapters later issues add (sender table, NLU, payment links); keyed by port name.
    extras: dict[str, Any] = field(default_factory=dict)
    # What to close on shutdown, in order (the ports holder, then anything added later).
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def close(self) -> None:
        for closer in self.closers:
            await closer()
        await self.engine.dispose()
