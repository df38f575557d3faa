"""Agent console delivery latency: how long from a customer's text hitting the webhook to the
agent's browser socket receiving it, with 50 and 500 agents connected, while inbound load
runs; and how long a broadcast (storm banner) takes to reach every connected agent."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from twilio.request_validator import RequestValidator

from bench.context import BenchContext
from bench.stats import summary_ms

HEADLINE = "webhook → agent p99 ms"
SETUPS = (
    "embedded (SQLite, in-process bus, one process) and production (PostgreSQL + Redis, "
    "1 API + 2 workers)."
)
TITLE = "Agent console: message delivery latency to agents (p50/p99)"
# Rows: backend × agents connected × inbound rate; see the notes under the table.
DESCRIPTION = (
    "The app runs as its own process (uvicorn; embedded SQLite with the in-process bus, or "
    "PostgreSQL + Redis with a separate worker). N agents are connected over `WS /agent/ws`, "
    "each holding one SMS conversation. A load generator posts signed Twilio webhooks for "
    "random customers at a steady rate; latency is from sending the webhook request to the "
    "holding agent's socket receiving the `message.in` event (intake → MessageReceived → "
    "console event committed with its id → bus → fan-out hub → the agent's outbox → socket). "
    "Broadcast: a supervisor switches storm mode and every agent must receive `storm.banner`; "
    "the row shows the spread over all agents of that one event."
)

ROOT = Path(__file__).resolve().parents[1]
AUTH_TOKEN = "bench-auth-token-0123456789abcdef"
PUBLIC = "https://bench.stormdesk.example"
SMS_PATH = "/channels/twilio/sms"
UTILITY = "+15045550100"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _phone(i: int) -> str:
    return f"+1504777{i:04d}"


async def _seed(url: str, agents: int) -> list[tuple[int, str, int]]:
    """N agents, each holding one conversation with its own customer phone, as routing would
    have left them. Returns (agent id, token-less username, conversation id)."""
    from core.agents.models import Agent, Assignment
    from core.agents.passwords import hash_password
    from core.clock import utcnow
    from core.conversations import service
    from core.conversations.schemas import Handoff, InboundMessage
    from core.db import make_engine, make_sessionmaker, unit_of_work

    engine = make_engine(url)
    shared_hash = hash_password("bench-password-not-secret")  # one hash for all: set-up speed
    seeded = []
    try:
        async with unit_of_work(make_sessionmaker(engine)) as session:
            now = utcnow()
            for i in range(agents):
                agent = Agent(username=f"agent{i:04d}", display_name=f"Agent {i}",
                              password_hash=shared_hash, role="agent", skills=["billing"],
                              capacity={"sms": 3}, presence="busy", presence_since=now,
                              idle_since=now, active=True)
                session.add(agent)
                await session.flush()
                intake = await service.receive(session, inbound=InboundMessage(
                    channel="sms", external_id=f"SMseed{uuid.uuid4().hex}", sender=_phone(i),
                    recipient=UTILITY, text="I need a person"))
                await service.mark_handled(session, intake.message_id)
                await service.transition(session, conversation_id=intake.conversation_id,
                                         to="queued", reason="bench", handoff=Handoff(
                                             reason="bench", skill="billing"))
                await service.transition(session, conversation_id=intake.conversation_id,
                                         to="agent", reason="bench", agent_id=str(agent.id))
                session.add(Assignment(
                    conversation_id=intake.conversation_id, live_key=intake.conversation_id,
                    agent_id=agent.id, skill="billing", channel="sms", state="active",
                    started_at=now, first_response_due=now, first_response_at=now,
                    first_response_breached=False,
                    resolution_due=now + timedelta(days=365),
                    resolution_breached=False))
                seeded.append((agent.id, agent.username, intake.conversation_id))
    finally:
        await engine.dispose()
    return seeded


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Output goes to a file: an unread pipe would fill up and stall the server."""
    with log.open("ab") as out:
        return subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


@asynccontextmanager
async def _server(ctx: BenchContext, url: str, redis_url: str | None) -> AsyncIterator[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORMDESK_")}
    env.update({"DATABASE_URL": url, "STORMDESK_ENV": "test", "STORMDESK_LOG_JSON": "false",
                "STORMDESK_LOG_LEVEL": "WARNING", "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                "PUBLIC_BASE_URL": PUBLIC})
    env.pop("TWILIO_ACCOUNT_SID", None)
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    port = _free_port()
    logs = Path(tempfile.mkdtemp(prefix="bench_console_"))
    processes = [_spawn([sys.executable, "-m", "uvicorn", "stormdesk.asgi:app", "--host",
                         "127.0.0.1", "--port", str(port), "--log-level", "warning"], env,
                        logs / "api.log")]
    if redis_url:  # production: two workers share the stream, as deployed
        processes += [_spawn([sys.executable, "-m", "stormdesk", "worker"], env,
                             logs / f"worker{n}.log") for n in (1, 2)]
    ctx.log(f"server output in {logs}")
    host = f"127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=f"http://{host}") as client, asyncio.timeout(90):
            while True:
                if processes[0].poll() is not None:
                    raise RuntimeError((logs / "api.log").read_text()[-2000:])
                with suppress(httpx.TransportError):
                    if (await client.get("/readyz")).status_code == 200:
                        break
                await asyncio.sleep(0.2)
        yield host
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


class _Agent:
    """One agent's socket: records when each tagged customer message arrives."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.arrivals: dict[str, float] = {}
        self.console_leg: list[float] = []  # the event's commit → this socket, wall clock
        self.banner_at: float | None = None

    async def listen(self) -> None:
        with suppress(Exception):
            async for raw in self.ws:
                now = time.perf_counter()
                event = json.loads(raw)
                if event.get("type") == "message.in":
                    self.arrivals[event["data"]["message"]["body"]] = now
                    committed = datetime.fromisoformat(event["at"]).timestamp()
                    self.console_leg.append(max(0.0, time.time() - committed))
                elif event.get("type") == "storm.banner" and self.banner_at is None:
                    self.banner_at = now


async def _connect(host: str, token: str) -> _Agent:
    from websockets.asyncio.client import connect

    ws = await connect(f"ws://{host}/agent/ws", open_timeout=30, max_queue=256)
    await ws.send(json.dumps({"type": "hello", "token": token}))
    welcome = json.loads(await ws.recv())
    assert welcome["type"] == "welcome", welcome
    return _Agent(ws)


async def _measure(ctx: BenchContext, *, backend: str, agents: int, rate: float,
                   seconds: float) -> dict[str, Any]:
    from agent_console.auth import tokens
    from core.agents.models import Agent
    from core.config import DEV_SECRET

    redis_url = None
    if backend == "postgresql":
        redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    async with ctx.database(backend) as url:
        seeded = await _seed(url, agents)
        async with _server(ctx, url, redis_url) as host:
            ctx.log(f"{backend}: connecting {agents} agents")
            clients = []
            for start in range(0, agents, 50):  # connect in waves, as a shift would log in
                batch = seeded[start:start + 50]
                clients += await asyncio.gather(*[
                    _connect(host, tokens.issue(
                        Agent(id=agent_id, username=name, role="agent"), secret_key=DEV_SECRET,
                        ttl_s=3600).token)
                    for agent_id, name, _ in batch])
            listeners = [asyncio.create_task(c.listen()) for c in clients]
            validator = RequestValidator(AUTH_TOKEN)
            sent: dict[str, tuple[int, float]] = {}
            errors = 0
            ctx.log(f"{backend}: {agents} agents, {rate:g} msg/s for {seconds:g} s")
            async with httpx.AsyncClient(base_url=f"http://{host}", timeout=30,
                                         limits=httpx.Limits(max_connections=64)) as http:

                async def text(seq: int) -> None:
                    nonlocal errors
                    index = seq % agents
                    body = f"bench {seq} {uuid.uuid4().hex[:6]}"
                    form = {"MessageSid": f"SM{uuid.uuid4().hex}", "AccountSid": "AC" + "0" * 32,
                            "From": _phone(index), "To": UTILITY, "Body": body, "NumMedia": "0",
                            "SmsStatus": "received", "ApiVersion": "2010-04-01"}
                    signature = validator.compute_signature(PUBLIC + SMS_PATH, form)
                    sent[body] = (index, time.perf_counter())
                    response = await http.post(SMS_PATH, data=form,
                                               headers={"X-Twilio-Signature": signature})
                    if response.status_code != 200:
                        errors += 1

                pending = []
                began = time.perf_counter()
                total = int(rate * seconds)
                for seq in range(total):
                    delay = began + seq / rate - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    pending.append(asyncio.create_task(text(seq)))
                await asyncio.gather(*pending)
                offered = total / (time.perf_counter() - began)
                # Wait (bounded) for the last deliveries.
                deadline = time.perf_counter() + 30
                while time.perf_counter() < deadline and sum(
                        1 for body, (i, _) in sent.items() if body in clients[i].arrivals) < total:
                    await asyncio.sleep(0.05)

                latencies = [clients[i].arrivals[body] - at for body, (i, at) in sent.items()
                             if body in clients[i].arrivals]
                lost = total - len(latencies)

                # Broadcast: one storm banner to everyone, timed per agent.
                supervisor_token = await _supervisor_token(url)
                started = time.perf_counter()
                await http.post("/api/v1/supervisor/storm", json={"on": True, "message": "bench"},
                                headers={"Authorization": f"Bearer {supervisor_token}"})
                deadline = time.perf_counter() + 30
                while time.perf_counter() < deadline and any(c.banner_at is None for c in clients):
                    await asyncio.sleep(0.01)
                spread = [c.banner_at - started for c in clients if c.banner_at is not None]
            for task in listeners:
                task.cancel()
            for client in clients:
                with suppress(Exception):
                    await client.ws.close()
    delivery = summary_ms(latencies)
    leg = summary_ms([x for c in clients for x in c.console_leg])
    broadcast = summary_ms(spread)
    return {
        "setup": ("embedded: SQLite, in-process bus" if backend == "sqlite"
                  else "production: PostgreSQL + Redis, 1 API + 2 workers"),
        "agents": agents,
        "inbound msg/s": round(offered, 1),
        "messages": total,
        "webhook → agent p50 ms": delivery["p50"],
        "webhook → agent p99 ms": delivery["p99"],
        "commit → agent p50 ms": leg["p50"],
        "commit → agent p99 ms": leg["p99"],
        "lost or late >30 s": lost + errors,
        "broadcast to all p50 ms": broadcast["p50"],
        "broadcast p99 ms": broadcast["p99"],
        "agents reached": len(spread),
    }


async def _supervisor_token(url: str) -> str:
    from agent_console.auth import tokens
    from core.agents.models import Agent
    from core.config import DEV_SECRET
    from core.db import make_engine, make_sessionmaker, unit_of_work

    engine = make_engine(url)
    try:
        async with unit_of_work(make_sessionmaker(engine)) as session:
            supervisor = Agent(username=f"sup{uuid.uuid4().hex[:6]}", display_name="Sup",
                               password_hash="x", role="supervisor", skills=[], capacity={},
                               presence="offline", active=True)
            session.add(supervisor)
            await session.flush()
            return tokens.issue(supervisor, secret_key=DEV_SECRET, ttl_s=600).token
    finally:
        await engine.dispose()


async def _redis_reachable() -> bool:
    import redis.asyncio as aioredis
    from redis.exceptions import RedisError

    client = aioredis.from_url(os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"))
    try:
        async with asyncio.timeout(2):
            return bool(await client.ping())
    except (OSError, RedisError, TimeoutError):
        return False
    finally:
        await client.aclose()


async def run(ctx: BenchContext) -> list[dict[str, Any]]:
    seconds = 3.0 if ctx.quick else 10.0
    sizes = (50, 100) if ctx.quick else (50, 500)
    rates = (10.0,) if ctx.quick else (10.0, 40.0)
    backends = ["sqlite"]
    if await _redis_reachable():
        backends.append("postgresql")
    else:
        ctx.note("Redis not reachable: the PostgreSQL + Redis rows were skipped.")
    rows = []
    load_before = os.getloadavg()[0]
    for backend in backends:
        for agents in sizes:
            for rate in rates:
                rows.append(await _measure(ctx, backend=backend, agents=agents, rate=rate,
                                           seconds=seconds))
    ctx.note(f"Load average (1 min) {load_before:.1f} before and {os.getloadavg()[0]:.1f} after "
             f"the run on {os.cpu_count()} cores: other work on the machine shows up as "
             "queueing in these latencies.")
    ctx.note("One machine runs the app, the worker, the database, Redis and the 50/500 "
             "socket clients; the clients share the app's CPU, so latencies include that "
             "contention. Each customer message goes to exactly one agent; the broadcast goes "
             "to all of them at once.")
    ctx.note("Agents and their conversations are seeded directly (500 argon2 hashes would "
             "dominate set-up); everything measured goes through the real webhook, pipeline, "
             "console listener, event log, bus and websocket.")
    return rows
