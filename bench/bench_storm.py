"""Bulk outage notices at storm scale: planning and enqueueing 100,000 and 500,000 notices,
the dispatch rate with no provider limit, and how customers texting OUT fare while a bulk
send is running (the reason replies have their own stream and a reserved share of each
sender's rate)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from datetime import time as clock_time
from typing import Any

from sqlalchemy import func, select

from bench.bench_sms import ACCOUNT_SID, AUTH_TOKEN, _free_port, _payload, _processes, _wait_ready
from bench.context import BenchContext
from bench.stats import percentile
from core.config import Settings
from core.db import make_engine, make_sessionmaker, unit_of_work
from core.notifications.flows import plan_notices
from core.notifications.models import Notice, NoticeKind
from core.notifications.policy import NoticePolicy
from core.notifications.relay import relay_once
from core.notifications.workers import run_senders
from core.outages import service as outages
from core.outages.enums import Device, DeviceKind
from core.runtime import Runtime
from core.storm.synthetic import Household, build_synthetic_utility
from integrations.notices import SandboxNoticeSender

HEADLINE = ("dispatch notices/s", "enqueue notices/s", "OUT p99 ms")
SETUPS = (
    "production only (PostgreSQL + Redis): bulk notices go through a Redis stream and a "
    "consumer group, which is what the target is about; an embedded deployment sends its "
    "notices in-process and is not measured here."
)
TITLE = "Storm: bulk outage notices"
DESCRIPTION = (
    "PostgreSQL + Redis (Streams, Lua token bucket). **plan**: operations confirm every feeder "
    "of a synthetic utility in one transaction and the notices are written in it "
    "(INSERT … SELECT per outage: subscribed, not opted-out addresses under the feeder, one "
    "per address). **enqueue**: the relay marks them queued and XADDs them in chunks of 50. "
    "**dispatch**: one worker process's senders (claim each notice right before its send, "
    "guarded UPDATE; record outcomes per chunk) through a provider that answers at once, "
    "with no rate limit. **OUT while bulk**: `stormdesk serve` + 2 `stormdesk worker` on "
    "PostgreSQL + Redis, signed Twilio webhooks with body OUT from customers' phones, "
    "latency of the webhook's answer (inline TwiML), without and then with 100,000 initial "
    "notices going out through the fake Twilio at 100 msg/s per sender."
)
PRODUCTION = "production: PostgreSQL + Redis, 1 API + 2 workers"
NO_QUIET = NoticePolicy(quiet_start=clock_time(0), quiet_end=clock_time(0))
SENDERS = [str(24700 + n) for n in range(10)]


async def _redis_ports(namespace: str) -> Any:
    from integrations.redis import redis_ports

    return redis_ports(os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
                       namespace=namespace)


async def _plan_and_enqueue(ctx: BenchContext, customers: int) -> dict[str, Any]:
    async with ctx.database("postgresql") as url:
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        outages.reset_engines()
        ports = await _redis_ports(f"benchstorm:{uuid.uuid4().hex[:8]}")
        try:
            ctx.log(f"building a {customers:,}-customer utility")
            utility = await build_synthetic_utility(engine, customers=customers, tag="BENCH")
            policy = NoticePolicy(queue_high_water=10**9)
            runtime = Runtime(settings=Settings(), engine=engine, sessions=sessions,
                              bus=ports.bus, queue=ports.queue, lock=ports.lock,
                              limiter=ports.limiter, dedupe=ports.dedupe)
            async with sessions() as session:  # the roll-up cache, built before timing
                await outages.inference_engine(session)
            began = time.perf_counter()
            async with unit_of_work(sessions) as session:
                for feeder in utility.feeder_ids:
                    change = await outages.confirm_outage(
                        session, device=Device(DeviceKind.FEEDER, feeder))
                    await plan_notices(session, change.events, policy=NO_QUIET)
            planned_s = time.perf_counter() - began
            async with sessions() as session:
                planned = int(await session.scalar(select(func.count()).select_from(Notice)))
            began = time.perf_counter()
            queued = 0
            while moved := await relay_once(runtime, policy):
                queued += moved
            enqueue_s = time.perf_counter() - began
            dispatch = await _dispatch(ctx, runtime, queued) if customers <= 100_000 else {}
        finally:
            await ports.close()
            await engine.dispose()
    return {"setup": "production: PostgreSQL + Redis",
            "case": f"{customers:,} customers, every feeder out",
            "notices": planned, "plan s": round(planned_s, 2),
            "plan notices/s": round(planned / planned_s),
            "enqueue s": round(enqueue_s, 2), "enqueue notices/s": round(queued / enqueue_s),
            **dispatch}


async def _dispatch(ctx: BenchContext, runtime: Runtime, queued: int) -> dict[str, Any]:
    """Everything queued, sent by one process's senders with no provider limit."""
    policy = NoticePolicy(mps=10**6, in_flight=512, chunk_size=50)
    sender = SandboxNoticeSender(rate=10**6)
    stop = asyncio.Event()
    began = time.perf_counter()
    task = asyncio.create_task(run_senders(runtime, policy, {
        "sms": sender, "whatsapp": sender, "email": sender}, stop))
    while True:
        await asyncio.sleep(0.5)
        async with runtime.sessions() as session:
            left = await session.scalar(select(func.count()).select_from(Notice).where(
                Notice.status.in_(["queued", "sending"])))
        if not left:
            break
    seconds = time.perf_counter() - began
    stop.set()
    await task
    ctx.log(f"dispatched {queued:,} in {seconds:.1f} s")
    return {"dispatch s": round(seconds, 1), "dispatch notices/s": round(queued / seconds)}


async def _out_texts(base: str, *, phones: list[str], seconds: float) -> dict[str, Any]:
    """Customers text OUT (each phone once, a few at a time); latency of each webhook answer."""
    import aiohttp
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(AUTH_TOKEN)
    url = base + "/channels/twilio/sms"
    samples: list[float] = []
    errors = 0
    loop = asyncio.get_running_loop()
    stop_at = loop.time() + seconds
    queue = list(phones)
    async with aiohttp.ClientSession() as client:
        async def phone() -> None:
            nonlocal errors
            while queue and loop.time() < stop_at:
                sender = queue.pop()
                payload = _payload(sender, "OUT", len(queue) + 10**6 * os.getpid() % 10**5)
                headers = {"X-Twilio-Signature": validator.compute_signature(url, payload)}
                began = loop.time()
                async with client.post(url, data=payload, headers=headers) as response:
                    await response.text()
                if response.status != 200:
                    errors += 1
                    continue
                samples.append(loop.time() - began)

        await asyncio.gather(*(phone() for _ in range(16)))
    return {"OUT texts": len(samples), "OUT/s": round(len(samples) / seconds, 1),
            "OUT p50 ms": round(percentile(samples, 0.5) * 1000, 1),
            "OUT p99 ms": round(percentile(samples, 0.99) * 1000, 1), "errors": errors}


async def _out_while_bulk(ctx: BenchContext, customers: int, seconds: float) -> list[dict]:
    rows: list[dict[str, Any]] = []
    python = sys.executable
    redis_url = os.environ.get("BENCH_STORM_REDIS_URL", "redis://127.0.0.1:6379/10")
    async with ctx.database("postgresql") as url:
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        utility = await build_synthetic_utility(engine, customers=customers, tag="OUT")
        fake_port, port = _free_port(), _free_port()
        base = f"http://127.0.0.1:{port}"
        env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": redis_url,
               "PUBLIC_BASE_URL": base, "TWILIO_API_BASE": f"http://127.0.0.1:{fake_port}",
               "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
               "STORMDESK_ENV": "test", "STORMDESK_LOG_LEVEL": "ERROR",
               "STORMDESK_NOTICE_SMS_FROM": ",".join(SENDERS), "PYTHONPATH": os.getcwd()}
        await _flush(redis_url)
        try:
            async with _processes(
                    [python, "-m", "integrations.fake_twilio", "--port", str(fake_port),
                     "--mps", "100"],
                    [python, "-m", "stormdesk", "serve", "--port", str(port)],
                    [python, "-m", "stormdesk", "worker"],
                    [python, "-m", "stormdesk", "worker"], env=env):
                await _wait_ready(base, "/readyz")
                phones = [Household(i).phone for i in range(0, customers, 7)]
                half = len(phones) // 2
                ctx.log("OUT texts, no bulk send")
                rows.append({"setup": PRODUCTION, "case": "OUT texts, no bulk send",
                             **await _out_texts(base, phones=phones[:half], seconds=seconds)})
                outages.reset_engines()
                async with unit_of_work(sessions) as session:
                    for feeder in utility.feeder_ids:
                        change = await outages.confirm_outage(
                            session, device=Device(DeviceKind.FEEDER, feeder))
                        await plan_notices(session, change.events, policy=NO_QUIET)
                await asyncio.sleep(3.0)  # the relay picks them up; the senders get going
                sent_before = await _sent(sessions)
                ctx.log("OUT texts during the bulk send")
                row = {"setup": PRODUCTION,
                       "case": f"OUT texts while {len(utility.premise_ids):,} customers' "
                               "initial alerts go out",
                       **await _out_texts(base, phones=phones[half:], seconds=seconds)}
                row["notices sent meanwhile/s"] = round(
                    (await _sent(sessions) - sent_before) / seconds, 1)
                rows.append(row)
        finally:
            await _flush(redis_url)
            await engine.dispose()
    return rows


async def _sent(sessions: Any) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Notice).where(
            Notice.kind == NoticeKind.INITIAL.value, Notice.status == "sent")))


async def _flush(url: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.from_url(url)
    try:
        async for key in client.scan_iter("stormdesk:*"):
            await client.delete(key)
    finally:
        await client.aclose()


async def run(ctx: BenchContext) -> list[dict[str, Any]]:
    sizes = (10_000,) if ctx.quick else (100_000, 500_000)
    rows = [await _plan_and_enqueue(ctx, size) for size in sizes]
    rows += await _out_while_bulk(ctx, 10_000 if ctx.quick else 100_000,
                                  seconds=5.0 if ctx.quick else 20.0)
    ctx.note(f"Load average when it started: {os.getloadavg()[0]:.1f} on {os.cpu_count()} "
             "cores, shared with other work: read rates as lower bounds.")
    ctx.note("Dispatch runs in one process (512 sends in flight, chunks of 50); more worker "
             "processes share the stream through the consumer group.")
    ctx.note("The enqueue column is the relay with an unbounded window; in production it "
             "keeps at most `queue_high_water` (5,000) notices on the stream, so a newer ETR "
             "or quiet hours can still act on the rest in the table.")
    ctx.note(f"OUT while bulk: the fake Twilio enforces 100 msg/s per sender over "
             f"{len(SENDERS)} short codes; bulk takes 80% of each sender's rate.")
    return rows
