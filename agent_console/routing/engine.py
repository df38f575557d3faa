"""The routing loop every API process runs; one pass at a time across processes (shared lock).

A pass: lapse expired offers, sync queues with conversations, close overdue wrap-ups, make
offers, check SLAs, and announce the queues if they changed. Passes run on a heartbeat and
whenever any process publishes a route kick (a new hand-off, an agent becoming free)."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from agent_console.config import ConsoleConfig, console_config
from agent_console.live import log as event_log
from agent_console.live.log import ROUTE_TOPIC, SUPERVISORS, console_tx, skill_audience
from agent_console.routing import offers, queues, sla, work
from core.clock import utcnow
from core.db import is_serialization_failure, write_lock
from core.runtime import Runtime

log = logging.getLogger(__name__)

ROUTING_LOCK = "console:routing"


def _shape(snapshot: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """What makes a queue update worth sending (ages tick by themselves on the client)."""
    return {
        skill: (q["waiting"], q["offered"], q["sla_breached"], q["agents_available"],
                q["agents_staffed"], q["callbacks"], hash(q["oldest_enqueued_at"]))
        for skill, q in snapshot["queues"].items()
    }


class RoutingEngine:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._wake = asyncio.Event()
        self._last_shape: dict[str, tuple[int, ...]] | None = None
        self._pruned_at = 0.0
        self.passes = 0

    def kick(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        async with self._runtime.bus.subscribe(ROUTE_TOPIC) as kicks, \
                asyncio.TaskGroup() as group:
            group.create_task(self._listen(kicks))
            group.create_task(self._loop())

    async def _listen(self, kicks: Any) -> None:
        async for _ in kicks:
            self._wake.set()

    async def _loop(self) -> None:
        while True:
            tick = console_config(self._runtime).route_tick_s
            kicked = True
            try:
                async with asyncio.timeout(tick):
                    await self._wake.wait()
            except TimeoutError:
                kicked = False
            # A cancel that lands as a timeout expires (this tick's, or the routing lock's
            # wait) can be taken for the timeout on Python 3.11: the task stays "cancelling"
            # and the loop ran on, so its TaskGroup, and the app's shutdown, waited forever
            # (seen in CI). Honour it here.
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise asyncio.CancelledError
            self._wake.clear()
            try:
                if kicked or await self._beat_is_ours(tick):
                    await self.route_once()
            except Exception:  # the next heartbeat retries; routing must not die
                log.exception("routing pass failed")
                await asyncio.sleep(tick)

    async def _beat_is_ours(self, tick: float) -> bool:
        """One heartbeat pass per tick for the whole cluster, not one per process: the
        heartbeat does the timed work (lapsed offers, wrap-ups, SLAs), which one pass covers
        for everybody. Each process's beat asks; the first of the tick runs it. (The key
        lives a little under a tick, so a lone process never misses its own next beat; if
        the process that took the beats dies, another takes them within a tick.)"""
        key = f"console:{await event_log.log_id(self._runtime)}:routing-beat"
        return await self._runtime.dedupe.first_time(key, ttl_s=tick * 0.9)

    async def _prune(self, config: ConsoleConfig) -> None:
        """Keep the event log to its retention (a few days of replay), a batch at a time."""
        loop = asyncio.get_running_loop()
        if loop.time() - self._pruned_at < config.prune_every_s:
            return
        self._pruned_at = loop.time()
        before = utcnow() - timedelta(seconds=config.event_retention_s)
        async with self._runtime.sessions() as session:
            dropped = await event_log.prune(session, before=before)
            await session.commit()
        if dropped:
            log.info("pruned %d console events older than %s", dropped, before.isoformat())

    async def route_once(self) -> bool:
        """One pass if no other process is in one; False if it was skipped."""
        try:
            key = f"{ROUTING_LOCK}:{await event_log.log_id(self._runtime)}"
            async with self._runtime.lock.hold(key, ttl_s=30.0, wait_s=0.05):
                for attempt in range(3):
                    try:
                        await self._pass()
                        break
                    except Exception as error:
                        # Someone changed a row the pass read (PostgreSQL, REPEATABLE READ):
                        # it rolled back whole; run it again on a fresh snapshot.
                        if attempt == 2 or not is_serialization_failure(error):
                            raise
        except TimeoutError:
            return False
        self.passes += 1
        return True

    async def _pass(self) -> None:
        config = console_config(self._runtime)
        await self._prune(config)
        async with console_tx(self._runtime) as tx:
            # One consistent view for the pass: without it, on SQLite, an emergency queued
            # mid-pass could be missed while the agent it needed is seen as free.
            await write_lock(tx.session)
            now = utcnow()
            await offers.expire_offers(tx, now=now, config=config)
            await queues.reconcile(tx, now=now)
            await work.expire_wrap_ups(tx, now=now)
            await offers.make_offers(tx, now=now, config=config)
            await sla.check(tx, now=now)
            snapshot = await queues.snapshot(tx.session, now=now)
            shape = _shape(snapshot)
            if shape != self._last_shape:
                previous = self._last_shape or {}
                for skill, queue in snapshot["queues"].items():
                    if previous.get(skill) != shape[skill]:
                        tx.emit(skill_audience(skill), "queue.update",
                                {"at": snapshot["at"], "queues": {skill: queue}})
                tx.emit(SUPERVISORS, "queue.update", snapshot)

                async def remember() -> None:  # only once the update is committed
                    self._last_shape = shape

                tx.after.append(remember)
            tx.kick = False  # this pass already routed what it changed
