"""Shared fixtures: real databases (a fresh one per test), real Redis, and the app.

SQLite: a migrated template file copied per test. PostgreSQL: CREATE DATABASE … TEMPLATE per test.
Without a reachable PostgreSQL/Redis the tests that need them skip, except under CI=true, where
they fail: CI must prove the production adapters.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core.db import make_engine, make_sessionmaker

# No test may reach a real provider: a Twilio client nobody pointed at a fake gets a local
# port where nothing listens (tests that run a fake pass its URL explicitly).
os.environ.setdefault("TWILIO_API_BASE", "http://127.0.0.1:9")

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PG_SERVER = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_SERVER = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def unavailable(what: str, why: object) -> None:
    message = f"{what} not reachable ({why})"
    if IN_CI:
        pytest.fail(f"{message}: required under CI=true", pytrace=False)
    pytest.skip(message)


def _pg_admin_dsn() -> str:
    return PG_SERVER.replace("postgresql+asyncpg://", "postgresql://")


def _with_db(dsn: str, name: str) -> str:
    base = dsn.rsplit("/", 1)[0]
    return f"{base}/{name}".replace("postgresql://", "postgresql+asyncpg://", 1)


async def _pg_exec(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_pg_admin_dsn(), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _pg_version() -> int:
    import asyncpg

    conn = await asyncpg.connect(_pg_admin_dsn(), timeout=5)
    try:
        return int(await conn.fetchval("SHOW server_version_num"))
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from stormdesk.migrate import upgrade

    path = tmp_path_factory.mktemp("db") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


_STRATEGY = ""


@pytest.fixture(scope="session")
def pg_template() -> AsyncIterator[str]:
    """A migrated template database, unique to this test run so parallel runs never collide."""
    from stormdesk.migrate import upgrade

    name = f"sdtmpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        asyncio.run(_pg_exec(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        unavailable("PostgreSQL", exc)
    upgrade(_with_db(_pg_admin_dsn(), name))
    global _STRATEGY
    _STRATEGY = " STRATEGY FILE_COPY" if asyncio.run(_pg_version()) >= 150000 else ""
    yield name
    asyncio.run(_pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "stormdesk.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
async def pg_url(pg_template: str) -> AsyncIterator[str]:
    name = f"sdtest_{uuid.uuid4().hex[:12]}"
    # FILE_COPY (PostgreSQL 15+) copies the small template's files instead of WAL-logging every
    # page: about half the time per test database.
    await _pg_exec(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"{_STRATEGY}')
    yield _with_db(_pg_admin_dsn(), name)
    await _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """Runs the test once on SQLite and once on PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return request.getfixturevalue(fixture)


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(db_url)
    yield eng
    await eng.dispose()


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with make_sessionmaker(engine)() as s:
        yield s


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    import redis.asyncio as aioredis

    client = aioredis.from_url(REDIS_SERVER)
    try:
        await asyncio.wait_for(client.ping(), timeout=3)
    except Exception as exc:  # noqa: BLE001
        await client.aclose()
        unavailable("Redis", exc)
    await client.aclose()
    yield REDIS_SERVER


@pytest.fixture
def namespace() -> str:
    """A key prefix unique to one test, so tests (and parallel runs) share Redis safely."""
    return f"sdtest:{uuid.uuid4().hex[:10]}"
