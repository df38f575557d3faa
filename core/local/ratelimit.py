"""In-process RateLimiter: one token bucket per key, refilled continuously on the loop clock."""

from __future__ import annotations

import asyncio


def check_bucket_args(rate: float, burst: int, tokens: int) -> None:
    """Reject requests a bucket could never satisfy, instead of waiting for them forever."""
    if rate <= 0:
        raise ValueError("rate must be positive")
    if burst < 1 or tokens < 1:
        raise ValueError("burst and tokens must be at least 1")
    if tokens > burst:
        raise ValueError(f"asking for {tokens} tokens from a bucket that holds at most {burst}")


class LocalRateLimiter:
    """A bucket starts full (`burst` tokens); state for buckets that have refilled is dropped,
    since a full bucket and a missing one are the same."""

    _SWEEP_ABOVE = 10_000

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float, float]] = {}  # key -> (tokens, at, full_at)

    async def try_acquire(self, key: str, *, rate: float, burst: int, tokens: int = 1) -> float:
        check_bucket_args(rate, burst, tokens)
        now = asyncio.get_running_loop().time()
        level, at, _ = self._buckets.get(key, (float(burst), now, now))
        level = min(float(burst), level + (now - at) * rate)
        if level >= tokens:
            level -= tokens
            wait = 0.0
        else:
            wait = (tokens - level) / rate
        self._buckets[key] = (level, now, now + (burst - level) / rate)
        if len(self._buckets) > self._SWEEP_ABOVE:
            self._sweep(now)
        return wait

    async def acquire(self, key: str, *, rate: float, burst: int, tokens: int = 1) -> None:
        while (wait := await self.try_acquire(key, rate=rate, burst=burst, tokens=tokens)) > 0:
            await asyncio.sleep(wait)

    async def close(self) -> None:
        self._buckets.clear()

    def _sweep(self, now: float) -> None:
        for key in [k for k, (_, _, full_at) in self._buckets.items() if full_at <= now]:
            del self._buckets[key]
