"""RateLimiter on Redis: one token bucket per key shared exactly by every process."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from core.local.ratelimit import check_bucket_args
from integrations.redis.keys import namespaced

# The whole read-refill-take-write runs as one script, so concurrent callers in any process
# never both spend the same token, and it uses the server's TIME so skewed host clocks agree.
# Quirks handled here:
# - TIME inside a script is allowed because Redis >= 5 replicates a script's effects, not the
#   script itself (7.x always does);
# - the timestamp is kept as TIME's two integer strings: microseconds since 1970 do not fit the
#   14 significant digits Lua's tostring keeps;
# - a Lua number returned to Redis is truncated to an integer, so the wait goes back as a string.
_TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local now = redis.call('TIME')
local state = redis.call('HMGET', KEYS[1], 'level', 's', 'us')
local level = burst
if state[1] then
  local elapsed = (tonumber(now[1]) - tonumber(state[2]))
                + (tonumber(now[2]) - tonumber(state[3])) / 1000000
  if elapsed < 0 then elapsed = 0 end
  level = math.min(burst, tonumber(state[1]) + elapsed * rate)
end
local wait = 0
if level >= want then
  level = level - want
else
  wait = (want - level) / rate
end
redis.call('HSET', KEYS[1], 'level', string.format('%.17g', level), 's', now[1], 'us', now[2])
-- Once refilled the bucket equals a missing one, so let it expire then.
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - level) / rate * 1000) + 1000)
return string.format('%.17g', wait)
"""


class RedisRateLimiter:
    """Buckets are hashes `<namespace>:rl:<key>`; a bucket starts full (`burst` tokens)."""

    def __init__(self, client: aioredis.Redis, *, namespace: str = "stormdesk") -> None:
        self._namespace = namespace
        self._take = client.register_script(_TAKE)

    async def try_acquire(self, key: str, *, rate: float, burst: int, tokens: int = 1) -> float:
        check_bucket_args(rate, burst, tokens)
        wait = await self._take(
            keys=[namespaced(self._namespace, "rl", key)], args=[repr(float(rate)), burst, tokens]
        )
        return float(wait)

    async def acquire(self, key: str, *, rate: float, burst: int, tokens: int = 1) -> None:
        while (wait := await self.try_acquire(key, rate=rate, burst=burst, tokens=tokens)) > 0:
            await asyncio.sleep(wait)

    async def close(self) -> None:
        return None
