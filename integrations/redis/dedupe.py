"""Dedupe on Redis: SET NX is atomic, so exactly one caller in any process sees a key as new."""

from __future__ import annotations

from collections.abc import Sequence

import redis.asyncio as aioredis

from integrations.redis.keys import namespaced


class RedisDedupe:
    """Keys `<namespace>:dd:<key>`, expiring after `ttl_s` (PX rather than EX: EX takes whole
    seconds only, and a fractional TTL must not round to zero)."""

    def __init__(self, client: aioredis.Redis, *, namespace: str = "stormdesk") -> None:
        self._client = client
        self._namespace = namespace

    async def first_time(self, key: str, *, ttl_s: float = 86400.0) -> bool:
        name = namespaced(self._namespace, "dd", key)
        return bool(await self._client.set(name, b"1", nx=True, px=max(1, round(ttl_s * 1000))))

    async def note_all(self, keys: Sequence[str], *, ttl_s: float = 86400.0) -> None:
        if not keys:
            return
        px = max(1, round(ttl_s * 1000))
        async with self._client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.set(namespaced(self._namespace, "dd", key), b"1", nx=True, px=px)
            await pipe.execute()

    async def seen(self, key: str) -> bool:
        return bool(await self._client.exists(namespaced(self._namespace, "dd", key)))

    async def close(self) -> None:
        return None
