"""Storm mode over HTTP: read and switch it (/api/v1/storm), the dashboard's JSON, and the
dashboard page itself (/console/storm, plain HTML and a canvas, nothing from a CDN)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse

from core.auth.service import Caller
from core.clock import utcnow
from core.conversations.flows import INBOUND_STREAM, OUTBOUND_STREAM, WORKER_GROUP
from core.enums import Role
from core.http import RuntimeDep, require_role
from core.notifications.dispatch import NOTICE_GROUP, NOTICE_STREAM
from core.runtime import Runtime
from core.storm import repository
from core.storm.dashboard import dashboard
from core.storm.mode import StormMode, storm_mode
from core.storm.schemas import StormStateOut, StormSwitchIn

router = APIRouter(prefix="/api/v1/storm", tags=["storm"])
pages = APIRouter(tags=["storm"])
PAGE = Path(__file__).resolve().parent / "static" / "storm.html"
DASHBOARD_TTL_S = 2.0

Supervisor = Annotated[Caller, Depends(require_role(Role.SUPERVISOR))]
Watcher = Annotated[Caller, Depends(require_role(Role.SUPERVISOR, Role.AGENT, Role.OPERATIONS))]


async def _out(storm: StormMode) -> StormStateOut:
    view = await storm.view()
    async with storm.runtime.sessions() as session:
        rate = await repository.reports_since(session, utcnow() - timedelta(minutes=1))
    return StormStateOut(
        active=view.active, auto=view.auto, source=view.source, message=view.message,
        greeting=await storm.greeting() or "", changed_by=view.changed_by,
        changed_at=view.changed_at, reason=view.reason, version=view.version,
        reports_last_minute=rate, on_rpm=storm.policy.on_rpm, off_rpm=storm.policy.off_rpm)


@router.get("", response_model=StormStateOut, summary="Storm mode now")
async def read_storm(runtime: RuntimeDep, _caller: Watcher) -> StormStateOut:
    return await _out(storm_mode(runtime))


@router.put("", response_model=StormStateOut, summary="Switch storm mode (audited)")
async def switch_storm(body: StormSwitchIn, runtime: RuntimeDep,
                       caller: Supervisor) -> StormStateOut:
    storm = storm_mode(runtime)
    await storm.set(caller=caller, active=body.active, auto=body.auto, message=body.message,
                    reason=body.reason)
    return await _out(storm)


@router.get("/dashboard", summary="Everything the storm dashboard draws")
async def storm_dashboard(runtime: RuntimeDep, _caller: Watcher) -> dict[str, Any]:
    return await cached_dashboard(runtime)


_cache: dict[int, tuple[float, dict[str, Any]]] = {}
_cache_lock = asyncio.Lock()


async def cached_dashboard(runtime: Runtime) -> dict[str, Any]:
    """Many supervisors polling cost one set of queries every couple of seconds."""
    loop = asyncio.get_running_loop()
    key = id(runtime)
    found = _cache.get(key)
    if found is not None and loop.time() - found[0] < DASHBOARD_TTL_S:
        return found[1]
    async with _cache_lock:
        found = _cache.get(key)
        if found is not None and loop.time() - found[0] < DASHBOARD_TTL_S:
            return found[1]
        queues = {
            "notices_in_flight": await runtime.queue.pending_count(NOTICE_STREAM, NOTICE_GROUP),
            "inbound_in_flight": await runtime.queue.pending_count(INBOUND_STREAM, WORKER_GROUP),
            "replies_in_flight": await runtime.queue.pending_count(OUTBOUND_STREAM,
                                                                   WORKER_GROUP),
        }
        async with runtime.sessions() as session:
            data = await dashboard(session, queues=queues)
        _cache[key] = (loop.time(), data)
        return data


@pages.get("/console/storm", response_class=HTMLResponse, include_in_schema=False)
async def storm_page() -> HTMLResponse:
    return HTMLResponse(PAGE.read_text(encoding="utf-8"))
