"""The automatic switch's clock: every `evaluate_every_s`, one process (the lock) compares the
report rate with the thresholds. Also keeps this process's cached storm state honest by
listening for switches made elsewhere."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from core.db import unit_of_work
from core.storm import service
from core.storm.events import StormModeChanged
from core.storm.mode import StormMode

log = logging.getLogger(__name__)

MONITOR_LOCK = "storm:monitor"


async def evaluate_once(storm: StormMode) -> bool:
    """True when it switched storm mode."""
    runtime = storm.runtime
    async with unit_of_work(runtime.sessions) as session:
        change = await service.evaluate(session, policy=storm.policy)
    if change.event is None:
        return False
    storm.forget()
    log.warning("storm mode switched %s automatically (%s)",
                "on" if change.state.active else "off", change.state.reason)
    await runtime.bus.publish(change.event.topic, change.event.to_payload())
    return True


async def run_monitor(storm: StormMode, stop: asyncio.Event) -> None:
    listener = asyncio.create_task(_listen(storm, stop))
    try:
        while not stop.is_set():
            try:
                async with storm.runtime.lock.hold(MONITOR_LOCK, ttl_s=30.0, wait_s=0.1):
                    await evaluate_once(storm)
            except TimeoutError:
                pass  # another process evaluates this round
            except Exception:  # the next round tries again
                log.exception("storm monitor pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=storm.policy.evaluate_every_s)
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener


async def _listen(storm: StormMode, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            async with storm.runtime.bus.subscribe(StormModeChanged.topic) as events:
                async for _ in events:
                    storm.forget()
        except asyncio.CancelledError:
            raise
        except Exception:  # the bus reconnects; the cache TTL covers the gap
            log.exception("storm listener lost the bus")
            await asyncio.sleep(1.0)
