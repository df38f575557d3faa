"""Every operation in /openapi.json, fuzzed by schemathesis with valid and invalid data as an
admin (an API token on the operator API, a console JWT on the console's): no 5xx, and a
response in a documented status carries the documented body and content type.

In-process ASGI on SQLite seeded with a small demo utility, so ids in the generated paths often
hit real rows. Bounded: a few examples per operation, no coverage or stateful phases."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from agent_console.auth import tokens
from core.agents.service import create_agent
from core.auth.service import create_token
from core.config import Settings
from core.db import make_engine, make_sessionmaker, unit_of_work
from stormdesk.app import create_app

from .kit import abuse_overrides, seed

CONFIG = schemathesis.Config.from_dict({
    "seed": 20251124,
    "generation": {"max-examples": 6, "mode": "all"},
    "phases": {"examples": {"enabled": False}, "coverage": {"enabled": False},
               "stateful": {"enabled": False}},
})
CONSOLE_PREFIXES = ("/api/v1/agent", "/api/v1/supervisor")


def documented_success_body(ctx, response, case):
    """A success must carry the documented body. Errors are the app's one envelope
    ({"error", "message", "detail"}, core/errors.py), which the schema does not describe."""
    if response.status_code >= 400:
        return None
    return response_schema_conformance(ctx, response, case)


CHECKS = [not_a_server_error, documented_success_body, content_type_conformance]


async def _prepare(url: str, secret: str) -> dict[str, dict[str, str]]:
    """Seed the demo utility; an admin API token and an admin console JWT."""
    await seed(url)
    engine = make_engine(url)
    try:
        async with unit_of_work(make_sessionmaker(engine)) as session:
            _, raw = await create_token(session, name="fuzz", role="admin")
            agent = await create_agent(session, username="fuzzadmin", display_name="Fuzz",
                                       password="correct-horse-battery-staple", role="admin",
                                       skills=("billing", "outage"))
            await session.flush()
            jwt = tokens.issue(agent, secret_key=secret, ttl_s=3600).token
    finally:
        await engine.dispose()
    return {"api": {"Authorization": f"Bearer {raw}"},
            "console": {"Authorization": f"Bearer {jwt}"}}


@pytest.fixture(scope="module")
def admin_headers_and_app(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("openapi-fuzz")
    db = folder / "stormdesk.db"
    shutil.copyfile(sqlite_template, db)
    url = f"sqlite+aiosqlite:///{db}"
    # No Twilio account: replies and notices go to the sandbox, nothing can leave the machine.
    settings = Settings(database_url=url, env="test", log_json=False, log_level="WARNING",
                        **abuse_overrides(folder / "mail"))
    headers = asyncio.run(_prepare(url, settings.secret_key.get_secret_value()))
    return headers, create_app(settings)


@pytest.fixture(scope="module")
def api_schema(admin_headers_and_app):
    _, app = admin_headers_and_app
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG)


@pytest.fixture(scope="module")
def admin_headers(admin_headers_and_app):
    return admin_headers_and_app[0]


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_no_operation_answers_5xx_or_off_schema(case, admin_headers) -> None:
    kind = "console" if case.path.startswith(CONSOLE_PREFIXES) else "api"
    case.call_and_validate(headers=admin_headers[kind], checks=CHECKS)
