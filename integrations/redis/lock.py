"""Lock on Redis: one key per lock, so every process contending for it sees the same holder."""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis

from integrations.redis.keys import namespaced

log = logging.getLogger(__name__)

# Compare-and-delete must be one step: GET then DEL from the client could delete a lock that
# expired and was taken by someone else between the two commands.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisLock:
    """SET NX PX with a random token per hold; release only if the token still matches.

    Waiting polls with a short, growing, jittered backoff (5 ms up to 100 ms): simpler than a
    release channel and cheap at the contention levels of one lock per conversation. A holder
    that runs past `ttl_s` loses the lock; it is not extended."""

    def __init__(self, client: aioredis.Redis, *, namespace: str = "stormdesk") -> None:
        self._client = client
        self._namespace = namespace
        self._release = client.register_script(_RELEASE)

    @asynccontextmanager
    async def hold(
        self, key: str, *, ttl_s: float = 30.0, wait_s: float = 10.0
    ) -> AsyncIterator[RedisHold]:
        name = namespaced(self._namespace, "lock", key)
        held = RedisHold(self, key, name, await self._acquire(name, ttl_s=ttl_s, wait_s=wait_s))
        try:
            yield held
        finally:
            await held.release()

    async def close(self) -> None:
        return None

    async def _acquire(self, name: str, *, ttl_s: float, wait_s: float) -> str:
        ttl_ms = round(ttl_s * 1000)
        if ttl_ms < 1:
            raise ValueError("ttl_s must be at least a millisecond")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        token = secrets.token_hex(16)
        pause = 0.005
        while True:
            # If we are cancelled mid-SET the key may be set without us knowing; the TTL bounds it.
            if await self._client.set(name, token, nx=True, px=ttl_ms):
                return token
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"lock {name!r} still held after {wait_s}s")
            await asyncio.sleep(min(remaining, pause * random.uniform(0.5, 1.5)))
            pause = min(pause * 2, 0.1)


class RedisHold:
    """One hold of a RedisLock (core.ports.Hold). The bus on the same client gives it back in
    its publishing round trip (`release_command`, then `settle` with the reply)."""

    __slots__ = ("_key", "_lock", "_name", "_token", "released")

    def __init__(self, lock: RedisLock, key: str, name: str, token: str) -> None:
        self._lock, self._key, self._name, self._token = lock, key, name, token
        self.released = False

    @property
    def client(self) -> aioredis.Redis:
        return self._lock._client

    def release_command(self) -> tuple[str | int, ...]:
        """The compare-and-delete as one raw command for a pipeline (EVALSHA: the script's
        body is not resent; a Redis that lost its scripts answers NOSCRIPT, see `settle`)."""
        return ("EVALSHA", self._lock._release.sha, 1, self._name, self._token)

    async def settle(self, reply: object) -> bool:
        """What the pipelined release answered; an error (NOSCRIPT after a Redis restart)
        releases it the ordinary way, which loads the script again."""
        if isinstance(reply, BaseException):
            return await self.release()
        self.released = True
        return self._warn_if_lost(bool(reply))

    async def release(self) -> bool:
        if self.released:
            return True
        released = bool(await self._lock._release(keys=[self._name], args=[self._token]))
        self.released = True
        return self._warn_if_lost(released)

    def _warn_if_lost(self, released: bool) -> bool:
        if not released:
            log.warning("lock %r expired while held and may have been taken over", self._key)
        return released
