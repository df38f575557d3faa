"""DurableQueue on Redis Streams with consumer groups: many worker processes share a stream,
each entry goes to one of them, and stays pending until acked or re-claimed."""

from __future__ import annotations

import json
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from core.ports import Delivery
from integrations.redis.keys import namespaced, text

_FIELD = "p"  # one field holding the JSON payload: stream fields are flat strings only

# XAUTOCLAIM does not report delivery counts, so look each claimed entry up in the PEL in the
# same script: atomic, one round trip, and the count already includes this claim.
# XAUTOCLAIM scans at most COUNT*10 PEL entries per call; a few rounds reach further in.
_CLAIM = """
local claimed = {}
local want = tonumber(ARGV[4])
local cursor = '0-0'
for _ = 1, 10 do
  local reply = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], cursor,
                           'COUNT', want - #claimed)
  cursor = reply[1]
  for _, entry in ipairs(reply[2]) do
    -- Redis 6.2 lists an entry trimmed from the stream as nil (false here); 7.x leaves it out.
    if entry then
      local info = redis.call('XPENDING', KEYS[1], ARGV[1], entry[1], entry[1], 1)
      claimed[#claimed + 1] = {entry[1], entry[2], info[1][4]}
    end
  end
  if cursor == '0-0' or #claimed >= want then break end
end
return claimed
"""


def _is(error: ResponseError, code: str) -> bool:
    return str(error).startswith(code)


class RedisQueue:
    """Streams are keys `<namespace>:q:<stream>`; groups start at the beginning of the stream
    (id 0), so entries enqueued before any worker ran are still delivered.

    Acked entries stay in the stream (other groups may still need them). Pass `maxlen` to trim
    approximately on enqueue; pick it far above any backlog, since trimming drops entries
    whether or not they were acked. The client must not have a `socket_timeout` shorter than
    the `block_ms` given to `read`."""

    def __init__(
        self, client: aioredis.Redis, *, namespace: str = "stormdesk", maxlen: int | None = None
    ) -> None:
        self._client = client
        self._namespace = namespace
        self._maxlen = maxlen
        self._groups: set[tuple[str, str]] = set()
        self._claim = client.register_script(_CLAIM)
        self._closed = False

    async def enqueue(self, stream: str, payload: dict[str, Any]) -> str:
        if self._closed:
            raise RuntimeError("queue is closed")
        entry_id = await self._client.xadd(
            self._key(stream), {_FIELD: json.dumps(payload)}, maxlen=self._maxlen, approximate=True
        )
        return text(entry_id)

    async def read(
        self, stream: str, group: str, consumer: str, *, count: int = 10, block_ms: int = 1000
    ) -> list[Delivery]:
        if self._closed:
            return []
        key = self._key(stream)
        await self._ensure_group(key, group)
        # BLOCK 0 means "forever" to Redis; we treat block_ms <= 0 as "do not block".
        block = block_ms if block_ms > 0 else None
        try:
            reply = await self._client.xreadgroup(
                group, consumer, {key: ">"}, count=count, block=block
            )
        except ResponseError as exc:
            if not _is(exc, "NOGROUP"):
                raise
            # The stream key was deleted (and the group with it) since we created it.
            self._groups.discard((key, group))
            await self._ensure_group(key, group)
            reply = await self._client.xreadgroup(
                group, consumer, {key: ">"}, count=count, block=block
            )
        return [
            Delivery(id=text(entry_id), payload=json.loads(fields[_decoded_field(fields)]))
            for entry_id, fields in _entries(reply)
            if fields  # nil fields only appear for trimmed entries, never on a ">" read
        ]

    async def ack(self, stream: str, group: str, delivery_id: str) -> None:
        try:
            await self._client.xack(self._key(stream), group, delivery_id)
        except ResponseError as exc:
            if not _is(exc, "NOGROUP"):
                raise

    async def claim_stale(
        self, stream: str, group: str, consumer: str, *, min_idle_ms: int, count: int = 100
    ) -> list[Delivery]:
        key = self._key(stream)
        await self._ensure_group(key, group)
        rows = await self._claim(keys=[key], args=[group, consumer, int(min_idle_ms), count])
        deliveries = []
        for entry_id, flat, delivered in rows:
            fields = dict(zip(flat[::2], flat[1::2], strict=True))
            deliveries.append(
                Delivery(
                    id=text(entry_id),
                    payload=json.loads(fields[_decoded_field(fields)]),
                    attempts=int(delivered),
                )
            )
        return deliveries

    async def pending_count(self, stream: str, group: str) -> int:
        try:
            summary = await self._client.xpending(self._key(stream), group)
        except ResponseError as exc:
            if _is(exc, "NOGROUP"):
                return 0
            raise
        return int(summary["pending"])

    async def close(self) -> None:
        """Stops new work; the client (and its pool) belongs to whoever built it."""
        self._closed = True

    async def _ensure_group(self, key: str, group: str) -> None:
        if (key, group) in self._groups:
            return
        try:
            await self._client.xgroup_create(key, group, id="0", mkstream=True)
        except ResponseError as exc:
            if not _is(exc, "BUSYGROUP"):  # another process created it first: fine
                raise
        self._groups.add((key, group))

    def _key(self, stream: str) -> str:
        return namespaced(self._namespace, "q", stream)


def _entries(reply: Any) -> list[tuple[Any, Any]]:
    """XREADGROUP replies are [[stream, entries]] on RESP2 and {stream: [entries]} on RESP3."""
    if not reply:
        return []
    if isinstance(reply, dict):
        return [entry for batches in reply.values() for batch in batches for entry in batch]
    return [entry for _, batch in reply for entry in batch]


def _decoded_field(fields: dict[Any, Any]) -> Any:
    return _FIELD if _FIELD in fields else _FIELD.encode()
