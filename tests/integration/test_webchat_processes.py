"""Production shape: two API processes and a worker on PostgreSQL and Redis. The customer's
socket is on one API process; the agent works on the other; a worker (no app, no sockets)
handles the messages and sends the replies. Every reply still reaches the customer, through
the Redis bus."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI

from channels import pipeline
from channels.webchat.client import ChatClient
from core.agents.service import create_agent
from core.config import Settings
from core.db import make_engine, unit_of_work
from core.demo.generator import SeedOptions, seed_demo_utility
from core.runtime import Runtime
from integrations.redis import redis_ports
from stormdesk.app import create_app
from stormdesk.wiring import build_runtime
from tests.bot_helpers import AS_OF
from tests.integration.agent_console.console_kit import PASSWORD, WsAgent, served

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


async def _runtime(db_url: str, redis_url: str, namespace: str) -> Runtime:
    """One process's runtime, built as `stormdesk serve` and `stormdesk worker` build it, with
    Redis ports under a namespace of this test's own (other test runs share the server)."""
    settings = Settings(database_url=db_url, redis_url=redis_url, env="test", log_json=False)
    runtime = await build_runtime(settings)
    for closer in runtime.closers:  # the default namespace's ports, never used
        await closer()
    ports = redis_ports(redis_url, namespace=namespace)
    runtime.bus, runtime.queue, runtime.lock = ports.bus, ports.queue, ports.lock
    runtime.limiter, runtime.dedupe = ports.limiter, ports.dedupe
    runtime.closers = [ports.close]
    return runtime


async def _api_process(db_url: str, redis_url: str, namespace: str) -> tuple[FastAPI, Runtime]:
    runtime = await _runtime(db_url, redis_url, namespace)
    return create_app(runtime.settings, runtime=runtime), runtime


@asynccontextmanager
async def running(app: FastAPI, runtime: Runtime) -> AsyncIterator[str]:
    try:
        async with app.router.lifespan_context(app), served(app) as host:
            yield host
    finally:
        await runtime.close()


async def test_replies_reach_a_customer_connected_to_another_process(
        pg_url: str, redis_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        await seed_demo_utility(engine, SeedOptions(customers=8, seed=11, months=3, as_of=AS_OF))
    finally:
        await engine.dispose()
    namespace = f"sdtest:{uuid.uuid4().hex[:10]}"
    app_a, runtime_a = await _api_process(pg_url, redis_url, namespace)
    app_b, runtime_b = await _api_process(pg_url, redis_url, namespace)
    stop = asyncio.Event()
    async with running(app_a, runtime_a) as host_a, running(app_b, runtime_b) as host_b:
        # The worker process: a runtime with no app, no hub and no sockets, as in
        # `stormdesk worker`; it handles the messages and sends every reply.
        runtime_w = await _runtime(pg_url, redis_url, namespace)
        worker = asyncio.create_task(pipeline.run_workers(runtime_w, stop))
        try:
            async with httpx.AsyncClient(base_url=f"http://{host_b}") as http_b:
                async with unit_of_work(runtime_b.sessions) as session:
                    agent_row = await create_agent(
                        session, username="sam", display_name="Sam", password=PASSWORD,
                        role="agent", skills=("billing",))
                    agent_row.presence = "available"
                login = await http_b.post("/api/v1/agent/login",
                                          json={"username": "sam", "password": PASSWORD})
                token = login.json()["token"]
                auth = {"Authorization": f"Bearer {token}"}
                agent = await WsAgent.connect(host_b, token)

                # The customer is on A; the bot's answers come from the worker, via Redis.
                chat = await ChatClient.connect(f"ws://{host_a}/channels/webchat/ws")
                (greeting,) = await chat.ask("hello", timeout=15)
                assert greeting["author"] == "bot"
                await chat.ask("agent please", timeout=15)

                offer = await agent.wait_for("offer.new", timeout=15)
                accepted = await http_b.post(
                    f"/api/v1/agent/offers/{offer['data']['offer_id']}/accept", headers=auth)
                assert accepted.status_code == 200, accepted.text
                conversation_id = offer["conversation_id"]

                # Typing crosses processes both ways.
                await chat.send_frame({"type": "typing", "on": True})
                assert (await agent.wait_for("typing", timeout=15))["data"]["who"] == "customer"
                await agent.ws.send(json.dumps({"type": "typing",
                                                "conversation_id": conversation_id}))
                assert (await chat.wait_for("typing", timeout=15))["who"] == "agent"

                sent = await http_b.post(f"/api/v1/agent/conversations/{conversation_id}/messages",
                                         json={"text": "Sam here, from the billing team."},
                                         headers=auth)
                assert sent.status_code == 200, sent.text
                pushed = await chat.wait_for("message", author="agent", timeout=15)
                assert pushed["text"] == "Sam here, from the billing team."
                assert pushed["agent"] == "Sam"

                # A reload lands on B this time: same session, same history.
                await chat.close()
                back = await ChatClient.connect(f"ws://{host_b}/channels/webchat/ws",
                                                token=chat.token)
                assert back.history[-1]["text"] == "Sam here, from the billing team."
                await back.close()
                await agent.close()
        finally:
            stop.set()
            await asyncio.wait_for(worker, 15)
            await runtime_w.close()
