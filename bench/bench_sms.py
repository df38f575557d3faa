"""Inbound SMS webhook throughput and latency, replies included, against a bare FastAPI
endpoint served the same way on the same machine in the same run (the ceiling)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import socket
import sys
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response

from bench.context import BenchContext, server_processes
from bench.stats import percentile

HEADLINE = "msg/s"
SETUPS = (
    "production (PostgreSQL + Redis, 2 API processes + 1 worker) and embedded (SQLite, workers "
    "in-process), with the bare FastAPI endpoint as the ceiling, all in the same run."
)
TITLE = "Inbound SMS webhook: messages/s and latency, replies included"
DESCRIPTION = (
    "N concurrent senders (each a phone: it sends its next text when the previous webhook "
    "answered) post Twilio-shaped, Twilio-signed `POST /channels/twilio/sms` requests over "
    "HTTP to `stormdesk serve`. Each answer is the TwiML carrying the bot's reply, so the "
    "latency is a customer's text stored, handled under its conversation lock (by the API "
    "process that took it while it has a free slot, else by a worker), and the reply stored "
    "and returned. *production*: PostgreSQL + Redis, two `stormdesk serve` API processes "
    "(the phones dealt evenly between them, as a load balancer would) and one "
    "`stormdesk worker`; *embedded*: SQLite, workers inside "
    "the server. "
    "*bare FastAPI*: one endpoint that parses the same form and returns a fixed TwiML, "
    "served by the same uvicorn: what this machine can do at all. The load generator "
    "(aiohttp) runs on the same 2 cores as the servers, PostgreSQL and Redis."
)

ROOT = Path(__file__).resolve().parents[1]
AUTH_TOKEN = "bench-auth-token"
ACCOUNT_SID = "AC" + "be" * 16
UTILITY = "+15045550100"
REDIS_DB = 12  # the servers use the default key namespace; give them a database of their own
CUSTOMERS = 2000
SERVICES = ("PostgreSQL", "Redis")  # their CPU per message is measured beside the servers'
TWIML_REPLY = ('<?xml version="1.0" encoding="UTF-8"?><Response><Message>'
               "<Body>Thanks, got it.</Body></Message></Response>")

bare_app = FastAPI()


@bare_app.post("/channels/twilio/sms")
async def bare_webhook(request: Request) -> Response:
    """The ceiling: read the form like the real webhook, answer a fixed TwiML."""
    form = await request.form()
    _ = form.get("Body")
    return Response(TWIML_REPLY, media_type="application/xml")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _phone(i: int) -> str:
    return f"+1504666{i:04d}"


def _payload(sender: str, body: str, n: int) -> dict[str, str]:
    sid = f"SM{os.getpid():08x}{n:024x}"
    return {"ToCountry": "US", "ToState": "LA", "SmsMessageSid": sid, "NumMedia": "0",
            "SmsSid": sid, "SmsStatus": "received", "Body": body, "FromCountry": "US",
            "To": UTILITY, "NumSegments": "1", "MessageSid": sid, "AccountSid": ACCOUNT_SID,
            "From": sender, "ApiVersion": "2010-04-01"}


def _tree(pid: int) -> list[int]:
    """The process and its descendants (`serve --workers N` forks its API processes)."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found.extend(_tree(int(child)))
    return found


def _cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds the server processes (and their children) have used."""
    total = 0.0
    for pid in (p for root in pids for p in _tree(root)):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # gone between the listing and the read
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _own_cpu_s() -> float:
    """CPU seconds of this process alone (the load generator), not of the servers it started."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _service_pids(db_url: str, redis_url: str) -> dict[str, list[int]]:
    """The PostgreSQL postmaster (its tree: every backend and background process) and the
    Redis server, when they run on this machine: where the rest of the CPU goes."""
    import redis.asyncio as aioredis
    from sqlalchemy import text

    from core.db import make_engine

    found: dict[str, list[int]] = {}
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            backend = int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())
        stat = Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()
        found["PostgreSQL"] = [int(stat[1])]  # the backend's parent: the postmaster
    except (OSError, ValueError):  # a server on another machine: its CPU is not ours to see
        pass
    finally:
        await engine.dispose()
    client = aioredis.from_url(redis_url)
    try:
        pid = int((await client.info("server"))["process_id"])
        if Path(f"/proc/{pid}").exists():
            found["Redis"] = [pid]
    finally:
        await client.aclose()
    return found


async def _drive(base: str, *, senders: int, seconds: float, warmup_s: float,
                 offset: int, pids: list[int], worker_pids: list[int] | None = None,
                 also: tuple[str, ...] = (),
                 services: dict[str, list[int]] | None = None) -> dict[str, Any]:
    """Run `senders` phones for `seconds` after a warm-up; latency of each webhook answer.

    With `also` (more API processes), the phones are dealt round-robin across them, as a
    load balancer would; every request is signed for `base`, the public URL. `services`
    (PostgreSQL, Redis) and the load generator itself get their CPU per message too."""
    import aiohttp
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(AUTH_TOKEN)
    url = base + "/channels/twilio/sms"
    samples: list[float] = []
    inline = 0
    errors = 0
    counter = offset
    loop = asyncio.get_running_loop()
    start_measure = loop.time() + warmup_s
    stop_at = start_measure + seconds
    connector = aiohttp.TCPConnector(limit=senders)
    async with aiohttp.ClientSession(connector=connector) as client:
        async def phone(i: int) -> None:
            nonlocal inline, errors, counter
            sender = _phone(i % CUSTOMERS)
            target = (base, *also)[i % (1 + len(also))] + "/channels/twilio/sms"
            while loop.time() < stop_at:
                counter += 1
                payload = _payload(sender, "STAT" if counter % 2 else "hi", counter)
                headers = {"X-Twilio-Signature": validator.compute_signature(url, payload)}
                began = loop.time()
                try:
                    async with client.post(target, data=payload,
                                           headers=headers) as response:
                        text = await response.text()
                except aiohttp.ClientError:  # a reset connection is an error, not the end
                    errors += began >= start_measure
                    await asyncio.sleep(0.1)
                    continue
                ended = loop.time()
                if began < start_measure:
                    continue
                if response.status != 200:
                    errors += 1
                    continue
                samples.append(ended - began)
                inline += "<Message" in text

        workers = worker_pids or []

        groups = services or {}

        def used() -> list[float]:
            return [_cpu_s(pids), _cpu_s(workers), _own_cpu_s(),
                    *(_cpu_s(group) for group in groups.values())]

        async def cpu_window() -> list[float]:
            await asyncio.sleep(warmup_s)
            before = used()
            await asyncio.sleep(max(0.0, stop_at - loop.time()))
            return [after - then for after, then in zip(used(), before, strict=True)]

        (cpu, worker_cpu, driver_cpu, *service_cpu), *_ = await asyncio.gather(
            cpu_window(), *(phone(offset + i) for i in range(senders)))
    count = len(samples)
    spent = dict(zip(groups, service_cpu, strict=True))
    elsewhere = {f"{name} CPU ms/msg": round(1000 * spent[name] / count, 2)
                 if count and name in spent else "-" for name in SERVICES}
    return {
        "senders": senders,
        "messages": count,
        "msg/s": round(count / seconds, 1),
        "p50 ms": round(percentile(samples, 0.50) * 1000, 1),
        "p99 ms": round(percentile(samples, 0.99) * 1000, 1),
        "reply inline": f"{100 * inline / count:.1f}%" if count else "-",
        # Load-independent cost: CPU the server processes spent per answered message.
        "server CPU ms/msg": round(1000 * (cpu + worker_cpu) / count, 2) if count else "-",
        "of which workers": round(1000 * worker_cpu / count, 2) if count and workers else "-",
        **elsewhere,
        "load generator CPU ms/msg": round(1000 * driver_cpu / count, 2) if count else "-",
        "errors": errors,
    }


def _processes(*commands: list[str], env: dict[str, str]
               ) -> contextlib.AbstractAsyncContextManager[list[int]]:
    """Start the commands; yields their pids (the first may be a helper, see callers)."""
    return server_processes(list(commands), env=env, cwd=ROOT, stop_timeout_s=20)


async def _wait_ready(base: str, path: str = "/healthz", timeout_s: float = 180.0) -> None:
    import aiohttp

    async with asyncio.timeout(timeout_s), aiohttp.ClientSession() as client:
        while True:
            try:
                async with client.get(base + path) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)


async def _wait_pipeline(base: str, timeout_s: float = 180.0, *, public: str | None = None,
                         first_id: int = 10**9) -> None:
    """Until a text gets its reply inline: the workers are up and consuming (they load the
    NLU model at start, which takes a while on a busy machine). Signed for `public`, the
    URL the servers know themselves by (default `base`)."""
    import aiohttp
    from twilio.request_validator import RequestValidator

    url = base + "/channels/twilio/sms"
    signed = (public or base) + "/channels/twilio/sms"
    validator = RequestValidator(AUTH_TOKEN)
    async with asyncio.timeout(timeout_s), aiohttp.ClientSession() as client:
        for attempt in range(10_000):
            payload = _payload(_phone(CUSTOMERS - 1), "HELP", first_id + attempt)
            headers = {"X-Twilio-Signature": validator.compute_signature(signed, payload)}
            async with client.post(url, data=payload, headers=headers) as response:
                if "<Message" in await response.text():
                    return


async def _seed(url: str) -> None:
    """Customers with phones on file, so identity look-ups hit real rows."""
    from sqlalchemy import insert

    from core.customers.models import Contact, Customer
    from core.db import make_engine

    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(Customer), [
                {"id": i + 1, "first_name": f"C{i}", "last_name": "Bench", "kind": "person",
                 "language": "en", "created_at": _now()} for i in range(CUSTOMERS)])
            await conn.execute(insert(Contact), [
                {"customer_id": i + 1, "kind": "phone", "value": _phone(i), "is_primary": True,
                 "language": "en", "preferred_channel": "sms", "outage_alerts": True,
                 "created_at": _now()} for i in range(CUSTOMERS)])
    finally:
        await engine.dispose()


def _now() -> Any:
    from core.clock import utcnow

    return utcnow()


def _env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "TWILIO_API_BASE")}
    env.update({"STORMDESK_ENV": "test", "STORMDESK_LOG_LEVEL": "WARNING",
                "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
                "PYTHONPATH": str(ROOT)})
    env.update(values)
    return env


async def _flush_redis(url: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.from_url(url)
    try:
        async for key in client.scan_iter("stormdesk:*"):
            await client.delete(key)
    finally:
        await client.aclose()


async def run(ctx: BenchContext) -> list[dict[str, Any]]:
    seconds, warmup = (3.0, 1.0) if ctx.quick else (15.0, 3.0)
    load_before = os.getloadavg()[0]
    levels = (8, 64)
    rows: list[dict[str, Any]] = []
    python = sys.executable

    # The ceiling.
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    async with _processes([python, "-m", "uvicorn", "bench.bench_sms:bare_app", "--port",
                           str(port), "--log-level", "warning", "--no-access-log"],
                          env=_env()) as pids:
        await _wait_ready(base, "/docs")
        for senders in levels:
            ctx.log(f"bare FastAPI, {senders} senders")
            rows.append({"setup": "bare FastAPI endpoint",
                         **await _drive(base, senders=senders, seconds=seconds,
                                        warmup_s=warmup, offset=0, pids=pids)})

    # The production shape: PostgreSQL + Redis, two API processes (each handles what it
    # takes while it has a free slot: the CPU is there) and a worker for the rest.
    redis_url = f"redis://127.0.0.1:6379/{REDIS_DB}"
    fake_port = _free_port()
    async with ctx.database("postgresql") as url:
        await _seed(url)
        await _flush_redis(redis_url)
        services = await _service_pids(url, redis_url)
        port, second = _free_port(), _free_port()
        base, other = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{second}"
        env = _env(DATABASE_URL=url, REDIS_URL=redis_url, PUBLIC_BASE_URL=base,
                   TWILIO_API_BASE=f"http://127.0.0.1:{fake_port}")
        try:
            # Two `serve` processes on two ports, the phones dealt evenly between them (a load
            # balancer's round robin). `serve --workers 2` shares one socket instead, and
            # the kernel hands 8 keep-alive connections out unevenly (6 + 2 is common), so
            # one process saturates while the other idles: ±40% between runs.
            async with _processes(
                    [python, "-m", "uvicorn", "bench.bench_sms:fake_twilio_app", "--port",
                     str(fake_port), "--log-level", "warning", "--no-access-log"],
                    [python, "-m", "stormdesk", "serve", "--port", str(port)],
                    [python, "-m", "stormdesk", "serve", "--port", str(second)],
                    [python, "-m", "stormdesk", "worker"], env=env) as pids:
                await _wait_ready(base, "/readyz")
                await _wait_ready(other, "/readyz")
                await _wait_pipeline(base)
                await _wait_pipeline(other, public=base, first_id=2 * 10**9)
                for senders in levels:
                    ctx.log(f"production (PostgreSQL + Redis, 2 API + 1 worker), {senders}")
                    rows.append({"setup": "production: PostgreSQL + Redis, 2 API + 1 worker",
                                 **await _drive(base, senders=senders, seconds=seconds,
                                                warmup_s=warmup, offset=senders * 1000,
                                                pids=pids[1:3], worker_pids=pids[3:],
                                                also=(other,), services=services)})
        finally:
            await _flush_redis(redis_url)

    # The embedded default: SQLite, workers in the server process.
    async with ctx.database("sqlite") as url:
        await _seed(url)
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        env = _env(DATABASE_URL=url.replace("sqlite+aiosqlite", "sqlite"), PUBLIC_BASE_URL=base,
                   TWILIO_API_BASE=f"http://127.0.0.1:{fake_port}")
        async with _processes(
                [python, "-m", "uvicorn", "bench.bench_sms:fake_twilio_app", "--port",
                 str(fake_port), "--log-level", "warning", "--no-access-log"],
                [python, "-m", "stormdesk", "serve", "--port", str(port)], env=env) as pids:
            await _wait_ready(base, "/readyz")
            await _wait_pipeline(base)
            for senders in levels:
                ctx.log(f"embedded (SQLite, in-process workers), {senders} senders")
                rows.append({"setup": "embedded: SQLite, workers in-process",
                             **await _drive(base, senders=senders, seconds=seconds,
                                            warmup_s=warmup, offset=senders * 2000,
                                            pids=pids[1:])})

    ctx.note(f"Machine load average (1 min) {load_before:.1f} before and "
             f"{os.getloadavg()[0]:.1f} after this run, on {os.cpu_count()} cores: anything "
             "above ~0.5 before means other work shared the CPUs and the numbers are low.")
    ctx.note("Target from issue 3: 1,000 inbound messages/s with p99 under 100 ms on the "
             "production setup on this 2-core machine, replies included.")
    production = [r for r in rows if r["setup"].startswith("production")
                  and isinstance(r["server CPU ms/msg"], float)]
    if production:
        row = min(production, key=lambda r: r["server CPU ms/msg"])
        parts = {"the servers": row["server CPU ms/msg"],
                 **{name: row.get(f"{name} CPU ms/msg") for name in SERVICES},
                 "the load generator": row["load generator CPU ms/msg"]}
        known = {name: cost for name, cost in parts.items() if isinstance(cost, float)}
        total = sum(known.values())
        split = ", ".join(f"{name} {cost:.2f}" for name, cost in known.items())
        ctx.note(f"Not met. Per message, in the cheapest production row of the last run ("
                 f"{row['senders']} senders; the table's cells are medians of all runs), "
                 f"{split} ms of CPU: {total:.2f} ms on the same "
                 f"2 cores, which bounds the setup near {2000 / total:,.0f} messages/s. 1,000/s "
                 "leaves 2.0 ms for all of them, and PostgreSQL, Redis and the load generator "
                 f"alone take {total - known['the servers']:.2f}. Per message, the API process "
                 "that takes the webhook handles it itself while it has a free slot: 1 "
                 "PostgreSQL round trip to store it (one autocommit statement: identity, open "
                 "conversation, insert, touch, and what handling reads) and 1 or 2 to handle "
                 "it (who is texting, for a status question; the handled mark + bot state + "
                 "replies), each in autocommit: a turn that writes nothing but its mark "
                 "needs no BEGIN or COMMIT; plus about 2.2 Redis round trips (the lock; one "
                 "pipelined publish of the message's and the reply's events that also gives "
                 "the lock back; and the note that its replies left, written with the other "
                 "answers of the same 50 ms); the wake-up stays in the process. Counted with "
                 "strace on an API process (2026-12-08): 2.36 PostgreSQL and 2.21 Redis "
                 "writes per message (4.06 before the lock and the notes shared round "
                 "trips). `perf` puts about 90% of an API process's CPU in the Python "
                 "interpreter and 10% in the kernel: the cost is Python executed per "
                 "message (SQLAlchemy, redis-py, Starlette and FastAPI, the bot, ours), "
                 "spread so that no one part is the gap. (py-spy shows ~25% in `write`, but "
                 "that is mostly the process preempted by the backend it just woke, not "
                 "CPU it spent.)")
    ctx.note("`server CPU ms/msg` is the CPU the measured servers used per answered message "
             "(both API processes and the worker for production, `of which workers` the "
             "worker's share; "
             "PostgreSQL, Redis and the load generator excluded): unlike msg/s it hardly "
             "depends on what else runs on the machine, so 2,000 divided by it bounds what 2 "
             "idle cores could do. It includes the servers' idle background loops (console "
             "routing, the console hub's repair, notice relay, storm monitor: about 20 ms/s "
             "per API process and 12 ms/s for the worker when idle, on 2026-12-08). "
             "`PostgreSQL CPU ms/msg` and `Redis CPU ms/msg` are those servers' whole process "
             "trees (every backend, the background writers) over the same window, and `load "
             "generator CPU ms/msg` is the process driving the phones (aiohttp, signing each "
             "request as Twilio does), alone: with them, the machine's whole CPU bill per "
             "message.")
    ctx.note("`reply inline` is the share of webhook answers that carried the reply as "
             "TwiML; the rest got empty TwiML at the 2 s budget and their replies went by "
             "REST (to a local fake Twilio API, so nothing left the machine).")
    return rows


def _fake_twilio() -> Any:
    from integrations.twilio.fake_api import FakeTwilio

    return FakeTwilio().app()


fake_twilio_app = _fake_twilio()
