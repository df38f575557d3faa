"""Redis adapters for the ports in `core.ports`: shared state for many API and worker processes."""

from __future__ import annotations

from integrations.redis.bus import RedisEventBus
from integrations.redis.dedupe import RedisDedupe
from integrations.redis.factory import connect, health, redis_ports
from integrations.redis.lock import RedisLock
from integrations.redis.queue import RedisQueue
from integrations.redis.ratelimit import RedisRateLimiter

__all__ = [
    "RedisDedupe",
    "RedisEventBus",
    "RedisLock",
    "RedisQueue",
    "RedisRateLimiter",
    "connect",
    "health",
    "redis_ports",
]
