"""Storm mode as the rest of the system asks about it, cheaply: `runtime.extras["storm"]`.

Every inbound message may ask "are we in a storm?", so the answer is cached for a couple of
seconds per process (and dropped at once when this process switches it); the row in the
database is the truth every process converges to.

What others call:
- `await storm.active()` — the bot greets with the storm message, answers outage questions
  from the cached picture;
- `await storm.paused("collections")` — collection and billing messages wait;
- `await storm.emergency_first()` — agent routing puts emergency queues first;
- `await storm.greeting(language)` — the phone line's first words.
It also implements the console's storm switch (`current()`, `switch(on=, by=, message=)`,
agent_console/storm.py), so the console's toggle and /api/v1/storm are one switch.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.auth.service import Caller
from core.db import unit_of_work
from core.runtime import Runtime
from core.storm import repository, service
from core.storm.policy import PAUSED_PURPOSES, StormPolicy, storm_greeting


@dataclass(frozen=True, slots=True)
class StormView:
    active: bool = False
    auto: bool = True
    source: str = "auto"
    message: str = ""
    changed_by: str | None = None
    changed_at: datetime | None = None
    reason: str | None = None
    version: int = 0


class StormMode:
    def __init__(self, runtime: Runtime, policy: StormPolicy | None = None) -> None:
        self.runtime = runtime
        self.policy = policy or StormPolicy()
        self._view: StormView | None = None
        self._read_at = 0.0
        self._lock = asyncio.Lock()

    async def view(self) -> StormView:
        loop = asyncio.get_running_loop()
        if self._view is not None and loop.time() - self._read_at < self.policy.cache_ttl_s:
            return self._view
        async with self._lock:
            if self._view is None or loop.time() - self._read_at >= self.policy.cache_ttl_s:
                async with self.runtime.sessions() as session:
                    state = await repository.read_state(session)
                self._view = _view(state) if state is not None else StormView()
                self._read_at = loop.time()
        return self._view

    def forget(self) -> None:
        """Drop the cache (after a switch here, or when the bus says it switched elsewhere)."""
        self._view = None

    async def active(self) -> bool:
        return (await self.view()).active

    async def paused(self, purpose: str) -> bool:
        return purpose in PAUSED_PURPOSES and await self.active()

    async def emergency_first(self) -> bool:
        return await self.active()

    async def greeting(self, language: str = "en") -> str | None:
        """The storm message while storm mode is on, else None."""
        view = await self.view()
        if not view.active:
            return None
        if view.message:
            return view.message
        settings = self.runtime.settings
        return storm_greeting(utility=settings.utility_name, utility_phone=settings.utility_phone,
                              language=language)

    async def set(self, *, caller: Caller, active: bool, auto: bool | None = None,
                  message: str | None = None, reason: str | None = None) -> StormView:
        async with unit_of_work(self.runtime.sessions) as session:
            change = await service.switch(session, caller=caller, active=active, auto=auto,
                                          message=message, reason=reason)
            view = _view(change.state)
        self.forget()
        if change.event is not None:
            await self.runtime.bus.publish(change.event.topic, change.event.to_payload())
        return view

    # -- the console's storm switch protocol ----------------------------------------------

    async def current(self) -> dict[str, Any]:
        view = await self.view()
        return {"on": view.active, "message": view.message, "by": view.changed_by,
                "at": view.changed_at.isoformat() if view.changed_at else None}

    async def switch(self, *, on: bool, by: Caller, message: str = "") -> dict[str, Any]:
        view = await self.set(caller=by, active=on, message=message or None)
        return {"on": view.active, "message": view.message, "by": view.changed_by,
                "at": view.changed_at.isoformat() if view.changed_at else None}


def _view(state: Any) -> StormView:
    return StormView(active=state.active, auto=state.auto, source=state.source,
                     message=state.message or "", changed_by=state.changed_by,
                     changed_at=state.changed_at, reason=state.reason, version=state.version)


def storm_mode(runtime: Runtime) -> StormMode:
    """The process's StormMode (the composition root normally puts it in extras first)."""
    found = runtime.extras.get("storm")
    if found is None:
        found = runtime.extras["storm"] = StormMode(runtime)
    return found
