"""The console's background work for one API process: the fan-out hub, the routing loop, the
listeners; and the hooks it gives other layers (JWT verifier, queue estimate, queue exit)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from agent_console import listeners
from agent_console.auth import tokens
from agent_console.live.hub import ConsoleHub
from agent_console.routing import queues
from agent_console.routing.engine import RoutingEngine
from agent_console.routing.estimate import make_queue_estimate
from agent_console.storm import storm_switch
from core.clock import utcnow
from core.runtime import Runtime

HUB = "console_hub"
ENGINE = "console_engine"


def install_hooks(runtime: Runtime) -> None:
    """What other layers call without importing the console (the composition root wires it)."""
    runtime.extras["jwt_verifier"] = tokens.verifier(
        runtime.settings.secret_key.get_secret_value())
    runtime.extras["queue_estimate"] = make_queue_estimate(runtime)

    async def queue_exit(session: Any, *, conversation_id: int, choice: str,
                         callback_number: str | None = None, note: str | None = None) -> None:
        """The customer would rather leave a message or be called back than keep waiting."""
        await queues.leave_queue(session, conversation_id=conversation_id, choice=choice,
                                 callback_number=callback_number, note=note, now=utcnow())

    runtime.extras["queue_exit"] = queue_exit
    storm_switch(runtime)


def hub_of(runtime: Runtime) -> ConsoleHub:
    return runtime.extras[HUB]


def engine_of(runtime: Runtime) -> RoutingEngine:
    return runtime.extras[ENGINE]


@asynccontextmanager
async def console_running(runtime: Runtime) -> AsyncIterator[None]:
    """Start the hub, routing loop and listeners; yield once all are subscribed."""
    install_hooks(runtime)
    hub = runtime.extras[HUB] = ConsoleHub(runtime)
    engine = runtime.extras[ENGINE] = RoutingEngine(runtime)
    listening = asyncio.Event()
    tasks = [
        asyncio.create_task(hub.run(), name="console-hub"),
        asyncio.create_task(engine.run(), name="console-routing"),
        asyncio.create_task(listeners.run_all(runtime, engine, listening),
                            name="console-listeners"),
    ]
    try:
        ready = asyncio.gather(hub.ready.wait(), listening.wait())
        done, _ = await asyncio.wait([ready, *tasks], return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:  # a task died while starting: surface its error
            ready.cancel()
            for task in done:
                task.result()
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError, Exception):
                await task
