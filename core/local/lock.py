"""In-process Lock: per-key mutual exclusion between tasks, with the same TTL rules as Redis."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

log = logging.getLogger(__name__)


class LocalLock:
    """Each hold gets a fresh token; release frees the key only if that token still owns it,
    so a holder that outlived its TTL (and was taken over) never frees the new holder's lock."""

    def __init__(self) -> None:
        self._held: dict[str, tuple[str, float]] = {}  # key -> (token, expires_at on loop clock)
        self._released: dict[str, asyncio.Event] = {}

    @asynccontextmanager
    async def hold(
        self, key: str, *, ttl_s: float = 30.0, wait_s: float = 10.0
    ) -> AsyncIterator[LocalHold]:
        held = LocalHold(self, key, await self._acquire(key, ttl_s=ttl_s, wait_s=wait_s))
        try:
            yield held
        finally:
            await held.release()

    async def close(self) -> None:
        return None

    async def _acquire(self, key: str, *, ttl_s: float, wait_s: float) -> str:
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        token = secrets.token_hex(16)
        while True:
            now = loop.time()
            current = self._held.get(key)
            if current is None or current[1] <= now:
                self._held[key] = (token, now + ttl_s)
                return token
            if now >= deadline:
                raise TimeoutError(f"lock {key!r} still held after {wait_s}s")
            released = self._released.setdefault(key, asyncio.Event())
            # Wake on release, on the holder's expiry, or at our own deadline, whichever is first.
            try:
                async with asyncio.timeout(min(deadline, current[1]) - now):
                    await released.wait()
            except TimeoutError:
                pass

    def _release(self, key: str, token: str) -> bool:
        current = self._held.get(key)
        if current is None or current[0] != token:
            log.warning("lock %r expired while held and may have been taken over", key)
            return False
        del self._held[key]
        released = self._released.pop(key, None)
        if released is not None:
            released.set()
        return True


class LocalHold:
    """One hold of a LocalLock (core.ports.Hold)."""

    __slots__ = ("_key", "_lock", "_token", "released")

    def __init__(self, lock: LocalLock, key: str, token: str) -> None:
        self._lock, self._key, self._token = lock, key, token
        self.released = False

    async def release(self) -> bool:
        if self.released:
            return True
        self.released = True
        return self._lock._release(self._key, self._token)
