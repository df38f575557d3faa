"""The storm switch as the console sees it: a hook the outage domain can own later.

Whoever owns storm mode puts an object with `current()` and `switch()` in
`runtime.extras["storm_switch"]` and announces changes on the `storm.changed` topic (the
console shows the banner from there). Until then the console keeps the state itself."""

from __future__ import annotations

from typing import Any, Protocol

from agent_console.listeners import STORM_TOPIC
from agent_console.live.log import ALL, console_tx
from core.agents.models import ConsoleFlag
from core.audit.service import record_audit
from core.auth.service import Caller
from core.clock import utcnow
from core.runtime import Runtime

EXTRA_KEY = "storm_switch"
FLAG = "storm_mode"


class StormSwitch(Protocol):
    async def current(self) -> dict[str, Any]: ...

    async def switch(self, *, on: bool, by: Caller, message: str = "") -> dict[str, Any]: ...


class ConsoleStormSwitch:
    """Storm mode as one shared row, announced to every console and on the bus."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    async def current(self) -> dict[str, Any]:
        async with self._runtime.sessions() as session:
            flag = await session.get(ConsoleFlag, FLAG)
        if flag is None:
            return {"on": False, "message": "", "by": None, "at": None}
        return {**flag.value, "by": flag.changed_by, "at": flag.changed_at.isoformat()}

    async def switch(self, *, on: bool, by: Caller, message: str = "") -> dict[str, Any]:
        now = utcnow()
        value = {"on": on, "message": message[:300]}
        async with console_tx(self._runtime) as tx:
            flag = await tx.session.get(ConsoleFlag, FLAG, with_for_update=True)
            before = dict(flag.value) if flag else {"on": False}
            if flag is None:
                flag = ConsoleFlag(key=FLAG, value=value, changed_by=by.name, changed_at=now)
                tx.session.add(flag)
            else:
                flag.value, flag.changed_by, flag.changed_at = value, by.name, now
            await record_audit(tx.session, caller=by, action="storm_mode", entity="system",
                               entity_id=FLAG, account_id=None, before=before, after=value,
                               reason=message or None)
            tx.emit(ALL, "storm.banner", {**value, "by": by.name, "at": now.isoformat()})

            async def announce() -> None:
                await self._runtime.bus.publish(STORM_TOPIC, {
                    **value, "by": by.name, "at": now.isoformat(), "source": "console"})

            tx.after.append(announce)
        return {**value, "by": by.name, "at": now.isoformat()}


def storm_switch(runtime: Runtime) -> StormSwitch:
    found = runtime.extras.get(EXTRA_KEY)
    if found is None:
        found = runtime.extras[EXTRA_KEY] = ConsoleStormSwitch(runtime)
    return found
