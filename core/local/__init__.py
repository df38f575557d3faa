"""In-process adapters for the ports in `core.ports`: the embedded default (one process)."""

from __future__ import annotations

from core.local.bus import LocalEventBus
from core.local.dedupe import LocalDedupe
from core.local.lock import LocalLock
from core.local.queue import LocalQueue
from core.local.ratelimit import LocalRateLimiter
from core.ports import Ports

__all__ = [
    "LocalDedupe",
    "LocalEventBus",
    "LocalLock",
    "LocalQueue",
    "LocalRateLimiter",
    "local_ports",
]


def local_ports() -> Ports:
    """All five ports in memory; state lives and dies with this process."""
    return Ports(
        bus=LocalEventBus(),
        queue=LocalQueue(),
        lock=LocalLock(),
        limiter=LocalRateLimiter(),
        dedupe=LocalDedupe(),
    )
