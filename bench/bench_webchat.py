"""Web chat: how many sessions one server holds, and how fast a chat message is answered while
it holds them (the issue's target: 5,000 idle and 500 active sessions on this machine)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import socket
import sys
import time
from pathlib import Path
from typing import Any

from bench.context import BenchContext, server_processes
from bench.stats import percentile

HEADLINE = ("round trip p99 ms", "connect p99 ms")
SETUPS = (
    "embedded (SQLite, 1 process) and production (PostgreSQL + Redis, 1 API + 2 workers)."
)
TITLE = "Web chat: sessions held and message round trip"
DESCRIPTION = (
    "`stormdesk serve` on a free port, in the embedded default (SQLite, workers inside the "
    "server: one process) and in production shape (PostgreSQL + Redis, one API process and "
    "two `stormdesk worker` processes); the load generator (the `websockets` client of "
    "`channels/webchat/client.py`) runs in another process on the same 2 cores. *idle*: "
    "sessions that connected (hello → welcome with history and a fresh token) and then sit "
    "still, as every open widget does. *active*: sessions that each send a chat message, wait "
    "for the bot's answer, think, and send again, while all the idle ones stay connected. "
    "Round trip: the `message` frame sent → the bot's `message` frame received on the same "
    "socket (stored, handled by the bot under the conversation's lock, reply stored, sent by "
    "the web chat sender through the event bus and the hub). Ack: → `ack` (the customer's "
    "message committed)."
)

ROOT = Path(__file__).resolve().parents[1]
TEXTS = ("hello", "thanks")
REDIS_DB = 13  # the servers use the default key namespace: a database of their own


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _raise_file_limit(needed: int) -> int:
    """Each session is a socket here (and one in the server): lift the soft limit to fit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, max(soft, needed))
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return wanted


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _processes(commands: list[list[str]], env: dict[str, str]
               ) -> contextlib.AbstractAsyncContextManager[list[int]]:
    """Start the server processes (the API first); stop them after; their pids."""
    return server_processes(commands, env=env, cwd=ROOT, stop_timeout_s=30)


def _env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update({"STORMDESK_ENV": "test", "STORMDESK_LOG_LEVEL": "WARNING",
                "PYTHONPATH": str(ROOT), **values})
    return env


# The CLI with the open files limit lifted (the API process holds every socket).
_CLI = """
import resource, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
from stormdesk.cli import app
app(sys.argv[1:])
"""


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", _CLI, *args]


async def _flush_redis(url: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.from_url(url)
    try:
        async for key in client.scan_iter("stormdesk:*"):
            await client.delete(key)
    finally:
        await client.aclose()


async def _wait_ready(base: str, timeout_s: float = 90.0) -> None:
    import httpx

    async with asyncio.timeout(timeout_s), httpx.AsyncClient(base_url=base) as http:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get("/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.2)


async def _open(url: str, count: int, *, parallel: int) -> tuple[list[Any], list[float], int]:
    """Open `count` sessions, `parallel` handshakes at a time; (clients, latencies, failures)."""
    from channels.webchat.client import ChatClient

    gate = asyncio.Semaphore(parallel)
    latencies: list[float] = []
    failures = 0

    async def one() -> Any:
        nonlocal failures
        async with gate:
            began = time.perf_counter()
            try:
                client = await ChatClient.connect(url, open_timeout=30, max_queue=16)
            except Exception:  # noqa: BLE001 - counted, and the row says how many
                failures += 1
                return None
            latencies.append(time.perf_counter() - began)
            return client

    clients = [c for c in await asyncio.gather(*(one() for _ in range(count))) if c]
    return clients, latencies, failures


async def _converse(clients: list[Any], *, seconds: float, warmup_s: float,
                    think_s: float) -> dict[str, Any]:
    """Each client: send, wait for the ack and the bot's answer, think, repeat."""
    loop = asyncio.get_running_loop()
    measure_from = loop.time() + warmup_s
    stop_at = measure_from + seconds
    acks: list[float] = []
    replies: list[float] = []
    errors = 0

    async def chat(index: int, client: Any) -> None:
        nonlocal errors
        # Spread the first messages over one think time, as real customers would be.
        await asyncio.sleep(think_s * index / max(1, len(clients)))
        turn = 0
        while loop.time() < stop_at:
            turn += 1
            began = loop.time()
            try:
                client_id = await client.send(TEXTS[turn % len(TEXTS)])
                acked = replied = None
                async with asyncio.timeout(30):
                    while replied is None:
                        frame = await client.recv(timeout=30)
                        if frame.get("type") == "ack" and frame.get("id") == client_id:
                            acked = loop.time()
                        elif frame.get("type") == "message" and frame.get("author") == "bot":
                            replied = loop.time()
                        elif frame.get("type") == "error":
                            raise RuntimeError(frame)
            except Exception:  # noqa: BLE001 - counted; the session carries on
                errors += 1
                await asyncio.sleep(think_s)
                continue
            if began >= measure_from and replied <= stop_at:
                replies.append(replied - began)
                if acked is not None:
                    acks.append(acked - began)
            await asyncio.sleep(think_s)

    await asyncio.gather(*(chat(i, c) for i, c in enumerate(clients)))
    return {
        "messages": len(replies),
        "msg/s": round(len(replies) / seconds, 1),
        "ack p50 ms": round(percentile(acks, 0.50) * 1000, 1),
        "ack p99 ms": round(percentile(acks, 0.99) * 1000, 1),
        "round trip p50 ms": round(percentile(replies, 0.50) * 1000, 1),
        "round trip p99 ms": round(percentile(replies, 0.99) * 1000, 1),
        "errors": errors,
    }


async def _still_alive(clients: list[Any], sample: int) -> tuple[int, int]:
    """Ping a sample of the idle sessions: how many answer."""
    step = max(1, len(clients) // sample)
    chosen = clients[::step][:sample]

    async def alive(client: Any) -> bool:
        try:
            await client.send_frame({"type": "ping", "ref": "alive"})
            await client.wait_for("pong", ref="alive", timeout=20)
            return True
        except Exception:  # noqa: BLE001
            return False

    answered = await asyncio.gather(*(alive(c) for c in chosen))
    return sum(answered), len(chosen)


async def _measure(ctx: BenchContext, setup: str, pids: list[int], ws_url: str, *,
                   idle_n: int, active_n: int, seconds: float, warmup: float,
                   think_levels: tuple[float, ...]) -> list[dict[str, Any]]:
    api = pids[0]
    rows: list[dict[str, Any]] = []
    rss_start = _rss_mb(api)

    ctx.log(f"{setup}: one session on an idle server")
    (solo,), _, _ = await _open(ws_url, 1, parallel=1)
    rows.append({"setup": setup, "case": "1 session, idle server", "sessions": 1,
                 **await _converse([solo], seconds=min(seconds, 10.0), warmup_s=1.0,
                                   think_s=0.25)})

    ctx.log(f"{setup}: opening {idle_n} idle sessions")
    began, cpu_before = time.perf_counter(), _cpu_s(api)
    idle, connect_s, failed = await _open(ws_url, idle_n, parallel=100)
    opened_s = time.perf_counter() - began
    cpu_per_open = (_cpu_s(api) - cpu_before) / max(1, len(idle))
    rss_idle = _rss_mb(api)
    rows.append({
        "setup": setup, "case": "idle sessions held", "sessions": len(idle),
        "open/s": round(len(idle) / opened_s, 1),
        "server CPU ms/open": round(cpu_per_open * 1000, 2),
        "connect p50 ms": round(percentile(connect_s, 0.50) * 1000, 1),
        "connect p99 ms": round(percentile(connect_s, 0.99) * 1000, 1),
        "API RSS MB": round(rss_idle, 1),
        "KB/session": round((rss_idle - rss_start) * 1024 / max(1, len(idle)), 1),
        "errors": failed,
    })

    for think in think_levels:
        ctx.log(f"{setup}: {active_n} active sessions (think {think:g} s) beside {len(idle)} idle")
        active, _, failed = await _open(ws_url, active_n, parallel=100)
        cpu_before = sum(_cpu_s(pid) for pid in pids)
        wall_before = time.perf_counter()
        result = await _converse(active, seconds=seconds, warmup_s=warmup, think_s=think)
        cpu_share = (sum(_cpu_s(pid) for pid in pids) - cpu_before) / (
            time.perf_counter() - wall_before)
        rows.append({"setup": setup,
                     "case": f"active: a message every {think:g} s after the answer",
                     "sessions": len(active), "idle alongside": len(idle), **result,
                     "server CPU": f"{100 * cpu_share:.0f}%",
                     "API RSS MB": round(_rss_mb(api), 1),
                     "errors": result["errors"] + failed})
        await asyncio.gather(*(c.close() for c in active), return_exceptions=True)

    answered, asked = await _still_alive(idle, 200)
    ctx.note(f"{setup}: after the active runs, {answered} of {asked} idle sessions sampled "
             "still answered a ping.")
    await asyncio.gather(*(c.close() for c in [solo, *idle]), return_exceptions=True)
    return rows


async def run(ctx: BenchContext) -> list[dict[str, Any]]:
    idle_n, active_n = (200, 20) if ctx.quick else (5000, 500)
    seconds, warmup = (5.0, 2.0) if ctx.quick else (30.0, 8.0)
    think_levels = (20.0, 5.0)
    limit = _raise_file_limit(idle_n + active_n + 200)
    load_before = os.getloadavg()[0]
    rows: list[dict[str, Any]] = []
    measure = {"idle_n": idle_n, "active_n": active_n, "seconds": seconds, "warmup": warmup,
               "think_levels": think_levels}

    async with ctx.database("sqlite") as url:
        port = _free_port()
        env = _env(DATABASE_URL=url.replace("sqlite+aiosqlite", "sqlite"))
        async with _processes([_cli("serve", "--port", str(port))], env) as pids:
            await _wait_ready(f"http://127.0.0.1:{port}")
            rows += await _measure(ctx, "embedded: SQLite, 1 process", pids,
                                   f"ws://127.0.0.1:{port}/channels/webchat/ws", **measure)

    redis_url = f"redis://127.0.0.1:6379/{REDIS_DB}"
    async with ctx.database("postgresql") as url:
        await _flush_redis(redis_url)
        port = _free_port()
        env = _env(DATABASE_URL=url, REDIS_URL=redis_url)
        try:
            async with _processes([_cli("serve", "--port", str(port)), _cli("worker"),
                                   _cli("worker")], env) as pids:
                await _wait_ready(f"http://127.0.0.1:{port}")
                rows += await _measure(ctx, "production: PostgreSQL + Redis, 1 API + 2 workers",
                                       pids, f"ws://127.0.0.1:{port}/channels/webchat/ws",
                                       **measure)
        finally:
            await _flush_redis(redis_url)

    ctx.note(f"Machine load average (1 min) {load_before:.1f} before and "
             f"{os.getloadavg()[0]:.1f} after this run, on {os.cpu_count()} cores shared with "
             "the load generator (and with other work on this machine: anything above ~0.5 "
             "before means the numbers are low).")
    ctx.note("`open/s` is bounded by the load generator (a Python client doing each "
             "handshake), not the server: `server CPU ms/open` is what a session costs the API "
             "process to open (handshake, hello, token, welcome).")
    ctx.note("`server CPU` is the CPU time of every server process (API and workers) over the "
             "run's wall time: 100% = one core; the machine has two, shared with the load "
             "generator, PostgreSQL and Redis.")
    ctx.note("Both setups run the same pipeline and bot as SMS (bench/bench_sms.py). At a "
             "message every 5 s per active session (about 100 messages/s offered) that "
             "pipeline, not the socket layer, is the limit on this machine: answers queue and "
             "round trips grow to seconds while idle sessions stay connected. The socket "
             "layer's own cost is `server CPU ms/open` and the ack at the sustainable rate.")
    ctx.note(f"Open files limit lifted to {limit} for the client and the server; every "
             "session is one socket on each side.")
    return rows
