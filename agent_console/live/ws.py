"""`WS /agent/ws`: authenticate, replay what was missed, then live events and agent commands.

See agent_console/PROTOCOL.md. One task receives commands, one sends from the connection's
bounded outbox; the hub never waits on either."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from contextlib import suppress

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from agent_console.auth import tokens
from agent_console.auth.guard import authenticate_raw
from agent_console.config import console_config
from agent_console.live import log as event_log
from agent_console.live.hub import Connection
from agent_console.live.protocol import Session, handle
from agent_console.routing import cards
from agent_console.startup import hub_of
from core.agents import repository
from core.agents.policy import may_supervise
from core.clock import utcnow
from core.errors import DomainError, Unauthorized
from core.runtime import Runtime

log = logging.getLogger(__name__)
router = APIRouter()

CLOSE_UNAUTHORIZED = 4001
CLOSE_BAD_HELLO = 4002
CLOSE_TOO_SLOW = 4008
CLOSE_TOO_BIG = 1009
# The largest command (a 4,000-character note) is a few KB of JSON. Run uvicorn with
# --ws-max-size to stop a bigger frame before it is buffered at all.
MAX_FRAME_CHARS = 64 * 1024


def audiences_for(agent_id: int, role: str, skills: list[str]) -> frozenset[str]:
    found = {event_log.agent_audience(agent_id), event_log.ALL}
    found |= {event_log.skill_audience(s) for s in skills}
    if may_supervise(role):  # type: ignore[arg-type]
        found.add(event_log.SUPERVISORS)
    return frozenset(found)


async def _close(websocket: WebSocket, code: int, reason: str = "") -> None:
    with suppress(Exception):
        async with asyncio.timeout(2):
            await websocket.close(code=code, reason=reason)


@router.websocket("/agent/ws")
async def agent_ws(websocket: WebSocket) -> None:
    runtime: Runtime = websocket.app.state.runtime
    config = console_config(runtime)
    await websocket.accept()
    try:
        async with asyncio.timeout(config.hello_timeout_s):
            hello = json.loads(await websocket.receive_text())
    except (TimeoutError, WebSocketDisconnect, ValueError):
        await _close(websocket, CLOSE_BAD_HELLO, "send hello first")
        return
    if not isinstance(hello, dict) or hello.get("type") != "hello":
        await _close(websocket, CLOSE_BAD_HELLO, "send hello first")
        return
    who = f"anonymous@{websocket.client.host if websocket.client else 'unknown'}"
    try:
        caller = await authenticate_raw(runtime, hello.get("token"), who=who,
                                        action="WS /agent/ws")
        async with runtime.sessions() as session:
            agent = await repository.get_agent(session, agent_id=caller.agent_id or 0)
            if not agent.active:
                raise Unauthorized("this account is disabled")
    except DomainError as error:
        await websocket.send_text(json.dumps({"type": "error", "error": "unauthorized",
                                              "message": error.message, **error.detail}))
        await _close(websocket, CLOSE_UNAUTHORIZED, error.message)
        return
    _, expires = tokens.verify(hello["token"],
                               secret_key=runtime.settings.secret_key.get_secret_value())
    last_id = hello.get("last_event_id")
    resuming = isinstance(last_id, int) and last_id >= 0
    hub = hub_of(runtime)
    await hub.ready.wait()
    conn = Connection(agent_id=agent.id,
                      audiences=audiences_for(agent.id, agent.role, list(agent.skills or ())),
                      outbox=asyncio.Queue(maxsize=config.send_queue_max),
                      after_id=last_id if resuming else hub.watermark)
    watermark = hub.attach(conn)  # from here on, live events land in conn.outbox
    session = Session(runtime=runtime, caller=caller, conn=conn, hub=hub, expires_at=expires)
    try:
        await websocket.send_text(json.dumps({
            "type": "welcome", "agent": cards.agent_card(agent), "server_time":
            utcnow().isoformat(), "last_event_id": watermark, "resumed": resuming,
            "token_expires_at": expires}))
        if resuming and last_id < watermark:
            await _replay(websocket, runtime, conn, after_id=last_id, upto_id=watermark,
                          limit=config.replay_limit)
        await _serve(websocket, session)
    finally:
        hub.detach(conn)


async def _replay(websocket: WebSocket, runtime: Runtime, conn: Connection, *, after_id: int,
                  upto_id: int, limit: int) -> None:
    async with runtime.sessions() as session:
        oldest = await event_log.oldest_event_id(session)
        rows = await event_log.events_after(session, after_id=after_id, upto_id=upto_id,
                                            audiences=conn.audiences, limit=limit + 1)
    # Ids are gapless, so any id in (after_id, upto_id] missing below the oldest kept one was
    # pruned (and an empty table after events were numbered means all of them were).
    pruned = after_id < upto_id and (oldest is None or after_id + 1 < oldest)
    if len(rows) > limit or pruned:
        # Too much to replay, or part of it is past retention: the client reloads its state
        # over REST and carries on from here.
        await websocket.send_text(json.dumps({"type": "resync", "last_event_id": upto_id}))
        return
    for row in rows:
        await websocket.send_text(json.dumps(event_log.envelope(row)))
    await websocket.send_text(json.dumps({"type": "replay.done", "replayed": len(rows),
                                          "last_event_id": upto_id}))


async def _serve(websocket: WebSocket, session: Session) -> None:
    sender = asyncio.create_task(_send_loop(websocket, session.conn))
    receiver = asyncio.create_task(_receive_loop(websocket, session))
    dropped = asyncio.create_task(session.conn.dropped.wait())
    expiry = asyncio.create_task(_expiry_watch(session))
    tasks = {sender, receiver, dropped, expiry}
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(BaseException):
                await task
    if dropped in done:
        log.warning("agent %s fell %d events behind; dropping the connection",
                    session.conn.agent_id, session.conn.outbox.maxsize)
        await _close(websocket, CLOSE_TOO_SLOW, "too far behind: reconnect with last_event_id")
    elif expiry in done:
        await _close(websocket, CLOSE_UNAUTHORIZED, "token expired")
    elif receiver in done and not receiver.cancelled() and receiver.exception() is None:
        pass  # the client went away
    else:
        await _close(websocket, 1011)


async def _send_loop(websocket: WebSocket, conn: Connection) -> None:
    while True:
        text = await conn.outbox.get()
        await websocket.send_text(text)


async def _receive_loop(websocket: WebSocket, session: Session) -> None:
    while True:
        try:
            raw = await websocket.receive_text()
        except WebSocketDisconnect:
            return
        if len(raw) > MAX_FRAME_CHARS:
            await _close(websocket, CLOSE_TOO_BIG, "frame too big")
            return
        reply = await handle(session, raw)
        if reply is not None:
            session.conn.push(json.dumps(reply))


async def _expiry_watch(session: Session) -> None:
    """Close the socket when its token expires, unless the client sent a fresh one."""
    while True:
        remaining = session.expires_at - time.time()
        if remaining <= 0:
            session.conn.push(json.dumps({"type": "error", "error": "unauthorized",
                                          "reason": "expired", "message": "token expired"}))
            await asyncio.sleep(0.2)  # let the sender flush the reason
            return
        await asyncio.sleep(min(remaining, 30.0))
