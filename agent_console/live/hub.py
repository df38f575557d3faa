"""Per-process fan-out of console events to the websockets connected to this process.

One bus subscription per process (not per agent, STYLE 7): every process sees every event and
hands each to its own connections by audience. Each connection has a bounded outbox; the hub
only ever `put_nowait`s, so a stalled agent fills its own outbox, gets dropped (to reconnect
and replay), and never delays anyone else.

Ordering: the hub delivers events strictly in id order. It keeps a watermark W (every id ≤ W
delivered); an event above W+1 waits until the ids before it arrive. Ids are gapless (log.py),
so a hole means a publish is late or lost: after a short grace the hub reads the missing range
from the database. So a connection that has been sent id N has been sent every earlier event
of its audiences, and replaying from N on reconnect loses nothing."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from agent_console.config import console_config
from agent_console.live import log as event_log
from core.runtime import Runtime

logger = logging.getLogger(__name__)


@dataclass(eq=False, slots=True)
class Connection:
    """One websocket's subscription: whom it listens as, and its bounded outbox of JSON text."""

    agent_id: int
    audiences: frozenset[str]
    outbox: asyncio.Queue[str]
    after_id: int = 0  # never deliver ids at or below this (already replayed or seen)
    monitoring: set[int] = field(default_factory=set)
    dropped: asyncio.Event = field(default_factory=asyncio.Event)

    def push(self, text: str) -> bool:
        if self.dropped.is_set():
            return False
        try:
            self.outbox.put_nowait(text)
        except asyncio.QueueFull:
            # Too far behind: drop it. It reconnects with its last id and replays the rest.
            self.dropped.set()
            return False
        return True


class ConsoleHub:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self.watermark = 0
        self._pending: dict[int, dict[str, Any]] = {}
        self._by_audience: dict[str, set[Connection]] = {}
        self._by_conversation: dict[int, set[Connection]] = {}
        # (watermark, loop time) when the database was first seen ahead of us at that watermark.
        self._hole: tuple[int, float] | None = None
        self.ready = asyncio.Event()
        self.delivered = 0  # events handed to connections (metrics, bench)
        self.drops = 0
        self.foreign = 0  # batches from another event log (a shared Redis), ignored
        self._log: str | None = None

    # -- connections ---------------------------------------------------------------------

    def attach(self, conn: Connection) -> int:
        """Start live delivery to `conn`; returns the watermark it must replay up to itself."""
        for audience in conn.audiences:
            self._by_audience.setdefault(audience, set()).add(conn)
        return self.watermark

    def detach(self, conn: Connection) -> None:
        for audience in conn.audiences:
            members = self._by_audience.get(audience)
            if members is not None:
                members.discard(conn)
                if not members:
                    del self._by_audience[audience]
        for conversation_id in list(conn.monitoring):
            self.unwatch(conn, conversation_id)

    def watch(self, conn: Connection, conversation_id: int) -> None:
        conn.monitoring.add(conversation_id)
        self._by_conversation.setdefault(conversation_id, set()).add(conn)

    def unwatch(self, conn: Connection, conversation_id: int) -> None:
        conn.monitoring.discard(conversation_id)
        members = self._by_conversation.get(conversation_id)
        if members is not None:
            members.discard(conn)
            if not members:
                del self._by_conversation[conversation_id]

    def connections(self) -> int:
        return len({c for members in self._by_audience.values() for c in members})

    # -- intake --------------------------------------------------------------------------

    async def run(self) -> None:
        """Subscribe, learn the starting watermark, then deliver until cancelled."""
        bus = self._runtime.bus
        async with bus.subscribe(event_log.EVENTS_TOPIC) as events, \
                bus.subscribe(event_log.EPHEMERAL_TOPIC) as ephemeral:
            self._log = await event_log.log_id(self._runtime)
            async with self._runtime.sessions() as session:
                self.watermark = await event_log.last_event_id(session)
            self.ready.set()
            async with asyncio.TaskGroup() as group:
                group.create_task(self._consume(events))
                group.create_task(self._consume_ephemeral(ephemeral))
                group.create_task(self._repair_loop())

    async def _consume(self, events: Any) -> None:
        async for message in events:
            if message.get("log") != self._log:
                self.foreign += 1  # another deployment on the same Redis: not ours
                continue
            self.ingest(message.get("events", ()))

    async def _consume_ephemeral(self, ephemeral: Any) -> None:
        async for message in ephemeral:
            if message.get("log") != self._log:
                self.foreign += 1
                continue
            text = json.dumps({k: v for k, v in message.items() if k not in ("audience", "log")})
            targets = set(self._by_audience.get(message.get("audience", ""), ()))
            conversation_id = message.get("conversation_id")
            if conversation_id is not None:
                targets |= self._by_conversation.get(conversation_id, set())
            for conn in targets:
                conn.push(text)

    def ingest(self, events: Iterable[dict[str, Any]]) -> None:
        for event in events:
            event_id = int(event["id"])
            if event_id > self.watermark:
                self._pending[event_id] = event
        while (nxt := self._pending.pop(self.watermark + 1, None)) is not None:
            self.watermark += 1
            self._deliver(nxt)

    def _deliver(self, event: dict[str, Any]) -> None:
        targets = self._by_audience.get(event["audience"])
        watchers = None
        if event.get("conversation_id") is not None:
            watchers = self._by_conversation.get(event["conversation_id"])
        if not targets and not watchers:
            return
        recipients = set(targets or ()) | set(watchers or ())
        text = json.dumps(event)
        event_id = event["id"]
        for conn in recipients:
            if event_id > conn.after_id:
                if conn.push(text):
                    self.delivered += 1
                else:
                    self.drops += 1

    # -- repair --------------------------------------------------------------------------

    async def _repair_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            config = console_config(self._runtime)
            await asyncio.sleep(config.repair_interval_s)
            try:
                await self._repair_once(loop.time(), config.repair_grace_s)
            except Exception:  # a failed repair is retried next interval
                logger.exception("console event repair failed")

    async def _repair_once(self, now: float, grace_s: float) -> None:
        async with self._runtime.sessions() as session:
            newest = await event_log.last_event_id(session)
            if newest <= self.watermark:
                self._hole = None
                return
            if self._hole is None or self._hole[0] != self.watermark:
                # Behind, but maybe only by what is in flight: wait a grace period at this spot.
                self._hole = (self.watermark, now)
                return
            if now - self._hole[1] < grace_s:
                return
            rows = await event_log.events_after(session, after_id=self.watermark, upto_id=newest,
                                                limit=5000)
        logger.info("console events %d..%d came late or never over the bus; read them from the "
                    "database", self.watermark + 1, newest)
        self._hole = None
        self.ingest(event_log.envelope(row) for row in rows)


async def publish_ephemeral(runtime: Runtime, *, audience: str, kind: str,
                            conversation_id: int | None, data: dict[str, Any]) -> None:
    """Typing and similar signals: delivered live if anyone listens, never stored."""
    with suppress(RuntimeError):
        await runtime.bus.publish(event_log.EPHEMERAL_TOPIC, {
            "log": await event_log.log_id(runtime), "type": kind, "audience": audience,
            "conversation_id": conversation_id, "data": data})
