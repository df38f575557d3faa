"""Production shape: two API processes and a worker (real uvicorn subprocesses) on PostgreSQL
and Redis. A customer's texts reach process B; the agent connected to process A gets the offer
and the messages; the agent's reply is sent by the worker; reconnecting to process B resumes
from the last event id without losing anything."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
import pytest
from console_kit import PASSWORD, WsAgent, eventually
from messaging_helpers import AUTH_TOKEN, PUBLIC_BASE_URL, SMS_PATH, sms_payload, twilio_signature
from sqlalchemy import select

from core.agents.service import create_agent
from core.conversations.models import Message
from core.db import make_engine, make_sessionmaker, unit_of_work

ROOT = Path(__file__).resolve().parents[3]
CUSTOMER = "+15045550142"
ALL_SKILLS = ("billing", "outage", "collections", "commercial", "emergency")

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(db_url: str, redis_url: str, tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORMDESK_")}
    env.update({
        "DATABASE_URL": db_url, "REDIS_URL": redis_url, "STORMDESK_ENV": "test",
        "STORMDESK_EMAIL_STORE_DIR": str(tmp / "email"),
        "STORMDESK_LOG_JSON": "false", "STORMDESK_LOG_LEVEL": "WARNING",
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
    })
    env.pop("TWILIO_ACCOUNT_SID", None)  # replies go to the sandbox sender
    return env


@contextmanager
def _process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    with log.open("wb") as out:
        process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@asynccontextmanager
async def _api(env: dict[str, str], log: Path) -> AsyncIterator[str]:
    port = _free_port()
    with _process([sys.executable, "-m", "uvicorn", "stormdesk.asgi:app", "--host", "127.0.0.1",
                   "--port", str(port), "--log-level", "warning"], env, log) as process:
        host = f"127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=f"http://{host}") as client:
            async with asyncio.timeout(60):
                while True:
                    if process.poll() is not None:
                        raise RuntimeError(f"API process died:\n{log.read_text()[-3000:]}")
                    try:
                        if (await client.get("/readyz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.2)
        yield host


async def test_two_api_processes_and_a_worker_share_one_console(
        many_pg_connections: None, pg_url: str, private_redis_url: str, tmp_path: Path
) -> None:
    # The processes use the default namespace: keys, streams and pub/sub in a Redis of their own.
    redis_db_url = private_redis_url
    engine = make_engine(pg_url)
    sessions = make_sessionmaker(engine)
    async with unit_of_work(sessions) as session:
        await create_agent(session, username="amy", display_name="Amy", password=PASSWORD,
                           skills=ALL_SKILLS)
    env = _env(pg_url, redis_db_url, tmp_path)
    worker_args = [sys.executable, "-m", "stormdesk", "worker", "--concurrency", "4"]
    try:
        with _process(worker_args, env, tmp_path / "worker.log"):
            async with _api(env, tmp_path / "a.log") as host_a, \
                    _api(env, tmp_path / "b.log") as host_b, \
                    httpx.AsyncClient(base_url=f"http://{host_a}") as a, \
                    httpx.AsyncClient(base_url=f"http://{host_b}") as b:
                login = await a.post("/api/v1/agent/login",
                                     json={"username": "amy", "password": PASSWORD})
                token = login.json()["token"]
                amy = await WsAgent.connect(host_a, token)
                ready = await amy.command("presence.set", presence="available")
                assert ready["type"] == "ack", ready

                async def text(body: str) -> None:
                    payload = sms_payload(sender=CUSTOMER, body=body)
                    response = await b.post(SMS_PATH, data=payload, headers={
                        "X-Twilio-Signature": twilio_signature(PUBLIC_BASE_URL + SMS_PATH,
                                                               payload)})
                    assert response.status_code == 200, response.text

                # Received by B, handed off by the worker, routed by whichever API process
                # holds the routing lock, offered to Amy on A.
                await text("AGENT")
                offer = await amy.wait_for("offer.new", timeout=30)
                accepted = await amy.command("offer.accept", offer_id=offer["data"]["offer_id"])
                assert accepted["type"] == "ack", accepted
                conversation = offer["conversation_id"]

                await text("my bill doubled this month")
                message = await amy.wait_for("message.in", timeout=30)
                assert message["data"]["message"]["body"] == "my bill doubled this month"
                assert message["conversation_id"] == conversation

                sent = await amy.command("message.send", conversation_id=conversation,
                                         text="Let me look at your meter reads.")
                assert sent["type"] == "ack", sent

                async def delivered() -> Message | None:
                    async with sessions() as session:
                        return await session.scalar(select(Message).where(
                            Message.author == "agent", Message.status == "sent"))

                reply = await eventually(delivered, timeout=30)
                assert reply.recipient == CUSTOMER

                # Amy's browser moves to B: she resumes from her last id and misses nothing.
                last = amy.last_id
                await amy.close()
                await text("hello?")
                await text("still there?")
                again = await WsAgent.connect(host_b, token, last_event_id=last)
                bodies: list[str] = []
                async with asyncio.timeout(30):
                    while len(bodies) < 2:
                        event = await again.wait_for("message.in", timeout=30)
                        bodies.append(event["data"]["message"]["body"])
                assert bodies == ["hello?", "still there?"]
                ids = [e["id"] for e in again.events]
                assert ids == sorted(ids) and len(ids) == len(set(ids)) and min(ids) > last
                await again.close()
    finally:
        await engine.dispose()
