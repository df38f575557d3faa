"""In-process Dedupe: remembers keys until their TTL passes, so a retry is seen as a repeat."""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Sequence


class LocalDedupe:
    """Check-and-set happens without an await in between, so concurrent callers in one loop
    cannot both see a key as new."""

    def __init__(self) -> None:
        self._expires: dict[str, float] = {}
        self._by_expiry: list[tuple[float, str]] = []  # heap for dropping expired keys

    async def first_time(self, key: str, *, ttl_s: float = 86400.0) -> bool:
        now = asyncio.get_running_loop().time()
        self._forget_expired(now)
        if self._expires.get(key, 0.0) > now:
            return False
        expires = now + ttl_s
        self._expires[key] = expires
        heapq.heappush(self._by_expiry, (expires, key))
        return True

    async def note_all(self, keys: Sequence[str], *, ttl_s: float = 86400.0) -> None:
        for key in keys:
            await self.first_time(key, ttl_s=ttl_s)

    async def seen(self, key: str) -> bool:
        return self._expires.get(key, 0.0) > asyncio.get_running_loop().time()

    async def close(self) -> None:
        self._expires.clear()
        self._by_expiry.clear()

    def _forget_expired(self, now: float) -> None:
        while self._by_expiry and self._by_expiry[0][0] <= now:
            expires, key = heapq.heappop(self._by_expiry)
            if self._expires.get(key) == expires:
                del self._expires[key]
