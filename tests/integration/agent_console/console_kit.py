"""Helpers for console tests: a running app, agents, queued conversations, websocket agents."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect

from agent_console.config import EXTRA_KEY, ConsoleConfig
from agent_console.startup import engine_of, hub_of
from core.agents.models import Agent
from core.agents.service import create_agent
from core.config import Settings
from core.conversations import service as conversations
from core.conversations.schemas import Handoff, InboundMessage
from core.db import unit_of_work
from core.runtime import Runtime
from stormdesk.app import create_app

PASSWORD = "correct-horse-battery-staple"
UTILITY_NUMBER = "+15555550100"


def settings_for(db_url: str, redis_url: str | None = None, **overrides: Any) -> Settings:
    return Settings(database_url=db_url, redis_url=redis_url, env="test", log_json=False,
                    **overrides)


@dataclass
class Console:
    """A started app with its runtime and an HTTP client bound to it."""

    app: FastAPI
    runtime: Runtime
    http: httpx.AsyncClient
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def config(self) -> ConsoleConfig:
        return self.runtime.extras[EXTRA_KEY]

    def configure(self, **changes: Any) -> None:
        self.runtime.extras[EXTRA_KEY] = replace(self.config, **changes)

    async def route(self) -> None:
        """One routing pass now (the background loop may run others; results are the same)."""
        while not await engine_of(self.runtime).route_once():
            await asyncio.sleep(0.01)

    async def agent(self, username: str, *, role: str = "agent", skills: tuple[str, ...] = (
            "billing",), presence: str | None = None, idle_since: datetime | None = None,
            capacity: dict[str, int] | None = None) -> Agent:
        async with unit_of_work(self.runtime.sessions) as session:
            agent = await create_agent(session, username=username, display_name=username.title(),
                                       password=PASSWORD, role=role, skills=skills,
                                       capacity=capacity)
            # Agents start ready to take work; supervisors watch (offline for routing).
            agent.presence = presence or ("available" if role == "agent" else "offline")
            if idle_since is not None:
                agent.idle_since = idle_since
        return agent

    async def login(self, username: str) -> str:
        response = await self.http.post("/api/v1/agent/login",
                                        json={"username": username, "password": PASSWORD})
        assert response.status_code == 200, response.text
        token = response.json()["token"]
        self.tokens[username] = token
        return token

    def auth(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    async def queued(self, *, phone: str, skill: str = "billing", priority: int = 0,
                     text: str = "I need a person", customer_id: int | None = None) -> int:
        """A conversation the bot has just handed off (stored exactly as the pipeline does)."""
        async with unit_of_work(self.runtime.sessions) as session:
            intake = await conversations.receive(session, inbound=InboundMessage(
                channel="sms", external_id=f"SM{uuid.uuid4().hex}", sender=phone,
                recipient=UTILITY_NUMBER, text=text))
            await conversations.mark_handled(session, intake.message_id)
            if customer_id is not None:
                await conversations.link_customer(session, conversation_id=intake.conversation_id,
                                                  customer_id=customer_id)
            await conversations.transition(
                session, conversation_id=intake.conversation_id, to="queued",
                reason="customer_asked", handoff=Handoff(
                    reason="customer_asked", skill=skill, priority=priority,
                    summary={"intent": "talk_to_agent", "verified": False, "text": text}))
        return intake.conversation_id


@asynccontextmanager
async def console(db_url: str, redis_url: str | None = None, *,
                  settings: dict[str, Any] | None = None, **config: Any) -> AsyncIterator[Console]:
    """The app started on `db_url`; `config` replaces ConsoleConfig fields."""
    app = create_app(settings_for(db_url, redis_url, **(settings or {})))
    async with app.router.lifespan_context(app):
        runtime: Runtime = app.state.runtime
        runtime.extras[EXTRA_KEY] = replace(ConsoleConfig(), **config)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://console.test") as http:
            yield Console(app=app, runtime=runtime, http=http)


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """Serve an already started app on a real socket (websockets need real TCP)."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off",
                                           log_level="warning", access_log=False))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


class WsAgent:
    """A console websocket client that keeps every event it has seen, in order."""

    def __init__(self, ws: ClientConnection, welcome: dict[str, Any]) -> None:
        self.ws = ws
        self.welcome = welcome
        self.events: list[dict[str, Any]] = []
        self.other: list[dict[str, Any]] = []
        self.last_id = welcome.get("last_event_id", 0)
        self._ref = 0

    @classmethod
    async def connect(cls, host: str, token: str, *, last_event_id: int | None = None,
                      max_queue: int | None = 64, stalled: bool = False) -> WsAgent:
        """`stalled`: a tiny receive buffer and no reading ahead, like a frozen browser tab."""
        sock = None
        if stalled:
            address, port = host.rsplit(":", 1)
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fixed: no autotuning
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, (address, int(port)))
            max_queue = 1
        ws = await connect(f"ws://{host}/agent/ws", max_queue=max_queue, open_timeout=10,
                           sock=sock)
        hello: dict[str, Any] = {"type": "hello", "token": token}
        if last_event_id is not None:
            hello["last_event_id"] = last_event_id
        await ws.send(json.dumps(hello))
        welcome = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert welcome["type"] == "welcome", welcome
        agent = cls(ws, welcome)
        if last_event_id is not None:
            agent.last_id = last_event_id
        return agent

    def _keep(self, message: dict[str, Any]) -> None:
        if "id" in message:
            self.events.append(message)
            self.last_id = max(self.last_id, message["id"])
        else:
            self.other.append(message)

    async def recv(self, timeout: float = 10.0) -> dict[str, Any]:
        message = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        self._keep(message)
        return message

    async def wait_for(self, kind: str, timeout: float = 10.0, **match: Any) -> dict[str, Any]:
        """The next message of `kind` (already seen ones first) whose data matches `match`."""
        def fits(m: dict[str, Any]) -> bool:
            data = m.get("data") or {}
            return m.get("type") == kind and all(
                data.get(k, m.get(k)) == v for k, v in match.items())

        for seen in self.events + self.other:
            if fits(seen) and not seen.get("_taken"):
                seen["_taken"] = True
                return seen
        async with asyncio.timeout(timeout):
            while True:
                message = await self.recv(timeout)
                if fits(message):
                    message["_taken"] = True
                    return message

    async def command(self, kind: str, timeout: float = 10.0, **fields: Any) -> dict[str, Any]:
        self._ref += 1
        ref = f"r{self._ref}"
        await self.ws.send(json.dumps({"type": kind, "ref": ref, **fields}))
        async with asyncio.timeout(timeout):
            while True:
                message = await self.recv(timeout)
                if message.get("ref") == ref:
                    return message

    async def close(self) -> None:
        await self.ws.close()


def hub_delivered(runtime: Runtime) -> int:
    return hub_of(runtime).delivered


async def eventually(check: Callable[[], Awaitable[Any]], *, timeout: float = 10.0) -> Any:
    """Poll `check` until it returns something truthy (background work lands asynchronously)."""
    async with asyncio.timeout(timeout):
        while not (result := await check()):
            await asyncio.sleep(0.02)
    return result
