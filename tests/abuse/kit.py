"""What the abuse tests share: the whole app on a small demo utility with every outside door
configured (Twilio signatures, SendGrid basic auth, the OMS secret), tokens for each kind of
caller, the hostile strings, and a sweep of every stored text for a card number."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, select

from agent_console.auth import tokens
from core.agents.service import create_agent
from core.auth.service import create_token
from core.db import make_engine, unit_of_work
from core.demo.generator import SeedOptions, seed_demo_utility
from core.demo.personas import DEMO_PERSONAS, Persona
from tests.messaging_helpers import Harness, messaging_app

INBOUND_USER = "sendgrid"
INBOUND_PASSWORD = "parse-secret-for-abuse-tests"
OMS_SECRET = "oms-secret-for-abuse-tests"
AGENT_PASSWORD = "correct-horse-battery-staple"

# A Luhn-valid Visa test number nobody else in the suite uses, so a hit is ours.
CARD = "4539 1488 0343 6467"
CARD_DIGITS = CARD.replace(" ", "")
CARD_SHAPES = (CARD, CARD_DIGITS, "4539-1488-0343-6467")

# Strings that do something if a layer interprets them instead of storing them.
INJECTIONS = (
    "'; DROP TABLE customers; --",
    "Robert'); DELETE FROM messages WHERE ('1'='1",
    "{{7*7}}",
    "${7*7}",
    "{utility}",
    "{0.__class__}",
    "%s%s%n",
    "<script>alert(1)</script>",
)


def persona(key: str) -> Persona:
    return next(p for p in DEMO_PERSONAS if p.key == key)


def basic_auth(user: str = INBOUND_USER, password: str = INBOUND_PASSWORD) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def oms_headers(body: bytes, *, secret: str = OMS_SECRET, at: float | None = None,
                ) -> dict[str, str]:
    """The OMS contract: sha256=hex(HMAC-SHA256(secret, "<timestamp>." + body))."""
    timestamp = str(int(time.time() if at is None else at))
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return {"X-Stormdesk-Timestamp": timestamp,
            "X-Stormdesk-Signature": f"sha256={digest.hexdigest()}",
            "Content-Type": "application/json"}


def abuse_overrides(store: Path) -> dict[str, Any]:
    return {"email_inbound_user": INBOUND_USER, "email_inbound_password": INBOUND_PASSWORD,
            "email_store_dir": store, "oms_webhook_secret": OMS_SECRET}


@dataclass
class Callers:
    """Authorization headers: an admin API token, and console JWTs for two agents and a
    supervisor (agent ids kept, to hand conversations to them)."""

    admin: dict[str, str]
    operations: dict[str, str]
    amy: dict[str, str]
    bob: dict[str, str]
    sue: dict[str, str]
    amy_id: int
    bob_id: int


async def make_callers(harness: Harness) -> Callers:
    runtime = harness.runtime
    secret = runtime.settings.secret_key.get_secret_value()
    headers: dict[str, dict[str, str]] = {}
    ids: dict[str, int] = {}
    async with unit_of_work(runtime.sessions) as session:
        for name, role in (("root", "admin"), ("ops", "operations")):
            _, raw = await create_token(session, name=name, role=role)
            headers[name] = {"Authorization": f"Bearer {raw}"}
        for name, role in (("amy", "agent"), ("bob", "agent"), ("sue", "supervisor")):
            agent = await create_agent(session, username=name, display_name=name.title(),
                                       password=AGENT_PASSWORD, role=role,
                                       skills=("billing", "outage"))
            await session.flush()
            ids[name] = agent.id
            jwt = tokens.issue(agent, secret_key=secret, ttl_s=3600).token
            headers[name] = {"Authorization": f"Bearer {jwt}"}
    return Callers(admin=headers["root"], operations=headers["ops"], amy=headers["amy"],
                   bob=headers["bob"], sue=headers["sue"], amy_id=ids["amy"], bob_id=ids["bob"])


async def seed(db_url: str, customers: int = 12) -> None:
    engine = make_engine(db_url)
    try:
        await seed_demo_utility(engine, SeedOptions(customers=customers, seed=5, months=3))
    finally:
        await engine.dispose()


@asynccontextmanager
async def abuse_app(db_url: str, store: Path, *, seeded: bool = True,
                    **settings: Any) -> AsyncIterator[Harness]:
    """The whole app (replies to a fake Twilio API, email to the sandbox) with every outside
    door configured; seeded with the demo personas unless told not to."""
    if seeded:
        await seed(db_url)
    async with messaging_app(db_url, inline_budget_s=5.0,
                             **{**abuse_overrides(store), **settings}) as harness:
        yield harness


# -- sweeping what was stored --------------------------------------------------------------

_SEPARATOR = re.compile(r"(?<=\d)[ \-.](?=\d)")


def joined_digits(text: str) -> str:
    """Digit groups joined, so "4539 1488-0343.6467" is found as one run."""
    return _SEPARATOR.sub("", text)


async def stored_texts_containing(harness: Harness, digits: str) -> list[str]:
    """Every table.column (any column, JSON included) whose value holds `digits`."""
    found: list[str] = []
    async with harness.runtime.engine.connect() as conn:
        metadata = MetaData()
        await conn.run_sync(lambda sync: metadata.reflect(sync))
        for table in metadata.sorted_tables:
            if table.name == "alembic_version":
                continue
            for row in (await conn.execute(select(table))).mappings():
                for column, value in row.items():
                    if value is None or isinstance(value, int | float | bool):
                        continue
                    text = value if isinstance(value, str) else json.dumps(
                        value, default=str, ensure_ascii=False)
                    if digits in joined_digits(text):
                        found.append(f"{table.name}.{column}")
    return sorted(set(found))


def files_containing(root: Path, digits: str) -> list[str]:
    """Files under `root` (the email store) whose text holds `digits`."""
    hits = []
    for path in root.rglob("*") if root.exists() else ():
        if path.is_file() and digits in joined_digits(path.read_bytes().decode("utf-8", "replace")):
            hits.append(str(path.relative_to(root)))
    return hits


@asynccontextmanager
async def served(app: Any) -> AsyncIterator[str]:
    """An already started app on a real socket (websockets need real TCP): host:port."""
    import asyncio

    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off",
                                           log_level="warning", access_log=False))
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
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
