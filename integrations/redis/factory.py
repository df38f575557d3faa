"""Builds every Redis adapter on one connection pool, plus the readiness check."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from core.ports import Ports
from integrations.redis.bus import RedisEventBus
from integrations.redis.dedupe import RedisDedupe
from integrations.redis.lock import RedisLock
from integrations.redis.queue import RedisQueue
from integrations.redis.ratelimit import RedisRateLimiter


async def health(client: aioredis.Redis, *, timeout_s: float = 2.0) -> bool:
    """True when Redis answers PING in time; for /readyz, so it never raises."""
    try:
        async with asyncio.timeout(timeout_s):
            return bool(await client.ping())
    except (RedisError, OSError, TimeoutError):
        return False


def connect(url: str) -> aioredis.Redis:
    """A client for the adapters; no connection is opened until first use."""
    # Keepalive and periodic PINGs let an idle pub/sub connection notice a dead peer (e.g. after
    # a failover without a TCP reset) instead of waiting on it forever.
    return aioredis.from_url(
        url, decode_responses=True, socket_keepalive=True, health_check_interval=30
    )


def redis_ports(url: str, namespace: str = "stormdesk") -> Ports:
    """All five ports on one client; `Ports.close()` also closes that client's pool."""
    client = connect(url)
    return Ports(
        bus=RedisEventBus(client, namespace=namespace),
        queue=RedisQueue(client, namespace=namespace),
        lock=RedisLock(client, namespace=namespace),
        limiter=RedisRateLimiter(client, namespace=namespace),
        dedupe=RedisDedupe(client, namespace=namespace),
        probe=lambda: health(client),
        on_close=(client.aclose,),
    )
