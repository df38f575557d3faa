"""Storm verbs: a supervisor's switch (audited) and the automatic one (hysteresis). They flush,
the caller commits, and the returned event is published after commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from core.audit.service import record_audit
from core.auth.service import Caller
from core.clock import utcnow
from core.enums import Role
from core.storm import repository
from core.storm.events import StormModeChanged
from core.storm.models import StormState
from core.storm.policy import StormPolicy

MONITOR = Caller(name="storm-monitor", role=Role.SYSTEM)


@dataclass(frozen=True, slots=True)
class StormChange:
    state: StormState
    event: StormModeChanged | None  # None: nothing changed


def snapshot(state: StormState) -> dict[str, object]:
    return {"active": state.active, "auto": state.auto, "source": state.source,
            "message": state.message}


async def switch(session: AsyncSession, *, caller: Caller, active: bool,
                 auto: bool | None = None, message: str | None = None,
                 reason: str | None = None, now: datetime | None = None) -> StormChange:
    """A supervisor (or admin) switches storm mode; every switch is in the audit trail."""
    now = now or utcnow()
    state = await repository.state_for_update(session, now)
    before = snapshot(state)
    state.active = active
    if auto is not None:
        state.auto = auto
    if message is not None:
        state.message = message.strip()
    state.source = "supervisor"
    state.calm_since = None
    if snapshot(state) == before:
        return StormChange(state, None)
    return await _changed(session, state, caller=caller, before=before, reason=reason, now=now)


async def evaluate(session: AsyncSession, *, policy: StormPolicy,
                   now: datetime | None = None) -> StormChange:
    """The automatic switch, from the reports of the last minute."""
    now = now or utcnow()
    rate = await repository.reports_since(session, now - timedelta(minutes=1))
    state = await repository.state_for_update(session, now)
    if not state.auto:
        return StormChange(state, None)
    before = snapshot(state)
    if not state.active:
        if rate >= policy.on_rpm:
            state.active, state.source, state.calm_since = True, "auto", None
            return await _changed(session, state, caller=MONITOR, before=before, now=now,
                                  reason=f"{rate} reports in the last minute")
        return StormChange(state, None)
    if state.source != "auto":
        return StormChange(state, None)  # a supervisor turned it on: only they turn it off
    if rate > policy.off_rpm:
        state.calm_since = None
        return StormChange(state, None)
    state.calm_since = state.calm_since or now
    if now - state.calm_since < policy.calm_for:
        return StormChange(state, None)
    state.active, state.calm_since = False, None
    return await _changed(session, state, caller=MONITOR, before=before, now=now,
                          reason=f"at most {policy.off_rpm:g} reports a minute for "
                                 f"{policy.calm_for}")


async def _changed(session: AsyncSession, state: StormState, *, caller: Caller,
                   before: dict[str, object], reason: str | None, now: datetime) -> StormChange:
    state.changed_by = caller.name[:80]
    state.changed_at = now
    state.reason = reason[:200] if reason else None
    state.version += 1
    await session.flush()
    await record_audit(session, caller=caller, action="storm_mode", entity="system",
                       entity_id="storm_mode", account_id=None, before=before,
                       after=snapshot(state), reason=reason)
    event = StormModeChanged(on=state.active, message=state.message, by=caller.name,
                             source=state.source, version=state.version, at=now.isoformat())
    return StormChange(state, event)
