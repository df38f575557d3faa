"""What a benchmark gets: scratch databases it can fill and drop, a quick mode, notes, a log."""

from __future__ import annotations

import asyncio
import os
import platform
import sqlite3
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

# The local server the test suite uses; scratch databases are created on it and dropped.
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass
class BenchContext:
    name: str
    quick: bool = False
    postgres_url: str = DEFAULT_POSTGRES
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        """A sentence printed under the benchmark's table (a caveat, a method, a finding)."""
        self.notes.append(text)

    def log(self, text: str) -> None:
        print(f"[{self.name}] {text}", file=sys.stderr, flush=True)

    @asynccontextmanager
    async def database(self, backend: str, *, migrate: bool = True) -> AsyncIterator[str]:
        """A fresh, migrated database ('sqlite' temp file or 'postgresql' scratch db), dropped after.

        Yields the async SQLAlchemy URL.
        """
        if backend == "sqlite":
            with tempfile.TemporaryDirectory(prefix=f"bench_{self.name}_") as folder:
                url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
                if migrate:
                    await _migrate(url)
                yield url
            return
        if backend != "postgresql":
            raise ValueError(f"unknown backend {backend!r}")
        database = f"bench_{self.name}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        await _admin(self.postgres_url, f'CREATE DATABASE "{database}"')
        try:
            url = _async_url(self.postgres_url, database)
            if migrate:
                await _migrate(url)
            yield url
        finally:
            await _admin(self.postgres_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _async_url(server_url: str, database: str) -> str:
    base = server_url.split("://", 1)[1].rsplit("/", 1)[0]
    return f"postgresql+asyncpg://{base}/{database}"


async def _admin(server_url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(server_url.replace("postgresql+asyncpg://", "postgresql://"),
                                 timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _migrate(url: str) -> None:
    from stormdesk.migrate import upgrade

    # Alembic's env runs its own event loop, so it gets a thread of its own.
    await asyncio.to_thread(upgrade, url)


def machine() -> dict[str, str]:
    """CPU model, cores and RAM: what a reader needs to compare numbers across machines."""
    cpu = platform.processor() or platform.machine()
    memory = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": str(os.cpu_count() or "?"), "ram": memory or "?",
            "os": f"{platform.system()} {platform.release()}"}


# The libraries on the measured path, and the peer's: a changed version explains a changed number.
PACKAGES = ("fastapi", "uvicorn", "sqlalchemy", "asyncpg", "redis", "twilio")


def rasa_version() -> str:
    """Rasa in the venv scripts/rasa_env.sh builds, read from its dist-info (no 3.10 start-up)."""
    venv = Path(os.environ.get("STORMDESK_RASA_VENV", Path.home() / ".cache/stormdesk/rasa"))
    found = next((venv / "lib").glob("python3.*/site-packages/rasa-*.dist-info"), None)
    return found.name.removeprefix("rasa-").removesuffix(".dist-info") if found else "not built"


async def versions(postgres_url: str) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version}
    for package in PACKAGES:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    found["rasa"] = rasa_version()
    found["redis server"] = await _redis_server_version()
    try:
        import asyncpg

        conn = await asyncpg.connect(postgres_url.replace("postgresql+asyncpg://", "postgresql://"),
                                     timeout=5)
        try:
            found["postgresql"] = str(await conn.fetchval("SHOW server_version")).split()[0]
        finally:
            await conn.close()
    except Exception as exc:  # noqa: BLE001 - a missing server is reported, not fatal
        found["postgresql"] = f"unavailable ({type(exc).__name__})"
    return found


async def _redis_server_version() -> str:
    import redis.asyncio as aioredis

    client = aioredis.from_url(os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"))
    try:
        async with asyncio.timeout(3):
            return str((await client.info("server"))["redis_version"])
    except Exception as exc:  # noqa: BLE001 - a missing server is reported, not fatal
        return f"unavailable ({type(exc).__name__})"
    finally:
        await client.aclose()


@asynccontextmanager
async def server_processes(commands: list[list[str]], *, env: dict[str, str], cwd: Path,
                           stop_timeout_s: float = 30.0) -> AsyncIterator[list[int]]:
    """Start the commands (servers under test); yield their pids; on exit terminate them,
    kill any that outlive `stop_timeout_s`, and print the stderr tail of any that failed."""
    procs = [await asyncio.create_subprocess_exec(
        *command, cwd=cwd, env=env, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE) for command in commands]
    try:
        yield [proc.pid for proc in procs]
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.terminate()
        for proc in procs:
            try:
                async with asyncio.timeout(stop_timeout_s):
                    _, err = await proc.communicate()
            except TimeoutError:
                proc.kill()
                _, err = await proc.communicate()
            if proc.returncode not in (0, -15):
                print(err.decode(errors="replace")[-3000:], file=sys.stderr)
