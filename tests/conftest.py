"""Shared fixtures: real databases (a fresh one per test), real Redis, and the app.

SQLite: a migrated template file copied per test. PostgreSQL: CREATE DATABASE … TEMPLATE per test.
Without a reachable PostgreSQL/Redis the tests that need them skip, except under CI=true, where
they fail: CI must prove the production adapters.

Safe under pytest-xdist (`-n N`) and beside other runs on the same servers: every PostgreSQL
database is unique to its test (the template to its worker process), Redis keys carry a
per-test namespace, and tests whose processes use the default namespace get a Redis server of
their own (`private_redis_url`). Servers under test listen on free ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core.db import make_engine, make_sessionmaker

# No test may reach a real provider: a Twilio client nobody pointed at a fake gets a local
# port where nothing listens (tests that run a fake pass its URL explicitly).
os.environ.setdefault("TWILIO_API_BASE", "http://127.0.0.1:9")
# What the app keeps under ./var by default (the embedded SQLite file, the email store) goes to
# a scratch folder of this test process: never the working tree, never shared between workers.
# (xdist workers inherit the controller's environment: theirs replaces the controller's.)
SCRATCH = Path(tempfile.mkdtemp(prefix="stormdesk-tests-"))
_PARENT_SCRATCH = os.environ.get("_STORMDESK_TEST_SCRATCH")
for _name, _path in (("STORMDESK_SQLITE_PATH", SCRATCH / "stormdesk.db"),
                     ("STORMDESK_EMAIL_STORE_DIR", SCRATCH / "email")):
    _set = os.environ.get(_name)
    if _set is None or (_PARENT_SCRATCH and _set.startswith(_PARENT_SCRATCH)):
        os.environ[_name] = str(_path)
os.environ["_STORMDESK_TEST_SCRATCH"] = str(SCRATCH)

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PG_SERVER = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_SERVER = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REDIS_BINARY = shutil.which("redis-server")
LOCKS = Path(tempfile.gettempdir()) / "stormdesk-test-locks"

# The longest tests start first, so a parallel run (xdist hands work out in collection order)
# is not left waiting on one that began last.
FIRST = ("storm", "rasa", "browser")


@pytest.hookimpl(tryfirst=True)  # before xdist reads the xdist_group marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        for index, marker in enumerate(FIRST):
            if item.get_closest_marker(marker) is not None:
                return index
        return len(FIRST)

    items.sort(key=rank)  # stable: the usual order within each rank
    for item in items:
        # Under `--dist loadgroup` these run one after another on one worker, so they never
        # wait on each other's lock (which still guards against other runs on this machine).
        if "many_pg_connections" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("many_pg_connections"))


@contextlib.contextmanager
def file_lock(name: str) -> Iterator[None]:
    """Held by one process at a time on this machine (other xdist workers and other runs)."""
    LOCKS.mkdir(parents=True, exist_ok=True)
    with (LOCKS / f"{name}.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(SCRATCH, ignore_errors=True)


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


class _Databases:
    """This worker's test databases, each a fresh copy of the template, made one test ahead and
    dropped behind on a thread of their own: CREATE and DROP DATABASE each wait for a
    checkpoint (up to a second apiece on a busy machine), and no test needs to wait for them."""

    def __init__(self, template: str, strategy: str) -> None:
        self._template = template
        self._strategy = strategy
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-databases")
        self._next: Future[str] | None = None
        self._drops: list[Future[None]] = []

    def _create(self) -> str:
        name = f"sdtest_{uuid.uuid4().hex[:12]}"
        asyncio.run(_pg_exec(f'CREATE DATABASE "{name}" TEMPLATE "{self._template}"'
                             f"{self._strategy}"))
        return name

    @staticmethod
    def _drop(name: str) -> None:
        asyncio.run(_pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    async def take(self) -> str:
        ready = self._next or self._thread.submit(self._create)
        self._next = self._thread.submit(self._create)  # runs while this test does
        return await asyncio.wrap_future(ready)

    def give_back(self, name: str) -> None:
        self._drops = [f for f in self._drops if not f.done() or f.exception()]
        self._drops.append(self._thread.submit(self._drop, name))

    def close(self) -> None:
        if self._next is not None:
            with contextlib.suppress(Exception):
                self.give_back(self._next.result())
        self._thread.shutdown(wait=True)
        failed = [f.exception() for f in self._drops if f.exception() is not None]
        if failed:
            raise RuntimeError(f"dropping {len(failed)} test database(s) failed: {failed[0]}")


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[_Databases]:
    """A migrated template database, unique to this test process (an xdist worker, or a run)
    so parallel workers and runs never collide; test databases are copied from it."""
    from stormdesk.migrate import upgrade

    name = f"sdtmpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        asyncio.run(_pg_exec(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        unavailable("PostgreSQL", exc)
    try:
        upgrade(_with_db(_pg_admin_dsn(), name))
        # FILE_COPY (PostgreSQL 15+) copies the small template's files instead of WAL-logging
        # every page: about half the time per test database.
        strategy = " STRATEGY FILE_COPY" if asyncio.run(_pg_version()) >= 150000 else ""
        databases = _Databases(name, strategy)
        try:
            yield databases
        finally:
            databases.close()
    finally:
        asyncio.run(_pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def many_pg_connections() -> Iterator[None]:
    """For tests whose worker and API processes each open a full pool (20 + 10) on PostgreSQL
    under load: one such test at a time on this machine (xdist workers and other runs), so
    together they stay under the server's max_connections (100 by default)."""
    with file_lock("many-pg-connections"):
        yield


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "stormdesk.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
async def pg_url(pg_databases: _Databases) -> AsyncIterator[str]:
    """A database of this test's own, migrated, empty, dropped afterwards."""
    name = await pg_databases.take()
    try:
        yield _with_db(_pg_admin_dsn(), name)
    finally:
        pg_databases.give_back(name)


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


def _start_redis(directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    import redis

    for _ in range(5):  # a free port can be taken between the probe and the bind: try another
        port = free_port()
        process = subprocess.Popen(
            [REDIS_BINARY or "redis-server", "--port", str(port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(directory),
             "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"redis://127.0.0.1:{port}/0"
        client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        try:
            while process.poll() is None and time.monotonic() < deadline:
                with contextlib.suppress(redis.ConnectionError):
                    if client.ping():
                        return process, url
                time.sleep(0.01)
        finally:
            client.close()
        process.kill()
        process.wait()
    raise RuntimeError("could not start a private redis-server")


@pytest.fixture
def private_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis no other test shares, for tests whose worker or API processes use the default
    key namespace. A database number of their own would not do: pub/sub channels span every
    database of a server, and the inline-answer wake-ups and storm-mode events are pub/sub.

    Without a redis-server binary: the shared server, one such test at a time on the machine."""
    if REDIS_BINARY is None:
        import redis

        url = REDIS_SERVER.rsplit("/", 1)[0] + "/15"
        try:
            redis.Redis.from_url(url, socket_connect_timeout=3).ping()
        except Exception as exc:  # noqa: BLE001
            unavailable("Redis", exc)
        with file_lock("shared-redis-default-namespace"):
            client = redis.Redis.from_url(url)
            try:
                client.flushdb()
                yield url
                client.flushdb()
            finally:
                client.close()
        return
    process, url = _start_redis(tmp_path_factory.mktemp("redis"))
    try:
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# A test stuck on an await shows, at pytest-timeout, only the event loop waiting in select.
# Shortly before the timeout, print every asyncio task's stack (into the test's captured
# stderr), so the failure report names the coroutine that never finished.
_DUMP_BEFORE_TIMEOUT_S = 15.0


def _dump_tasks() -> None:
    import gc
    import sys

    for found in gc.get_objects():
        if isinstance(found, asyncio.AbstractEventLoop) and found.is_running():
            def dump(loop: asyncio.AbstractEventLoop = found) -> None:
                print(f"--- asyncio tasks of {loop!r} ---", file=sys.stderr)
                for task in asyncio.all_tasks(loop):
                    task.print_stack(file=sys.stderr)
            found.call_soon_threadsafe(dump)


@pytest.fixture(autouse=True)
def _tasks_dumped_before_timeout(request: pytest.FixtureRequest) -> Iterator[None]:
    import threading

    marker = request.node.get_closest_marker("timeout")
    limit = float(marker.args[0]) if marker and marker.args else float(
        request.config.getini("timeout") or 0)
    if limit <= _DUMP_BEFORE_TIMEOUT_S:
        yield
        return
    timer = threading.Timer(limit - _DUMP_BEFORE_TIMEOUT_S, _dump_tasks)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
