"""The drills. Each starts its own production setup, breaks one thing under load, heals it,
and returns a Row counted from the database and the fake Twilio.

Load is modest on purpose (a few hundred texts, a storm of 2,000 customers): the point is
what survives the fault, and the whole run has to fit in minutes on a 2-core machine."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime

from chaos.harness import SENDERS, Phones, Row, Setup, kind_of, tally_messages

STORM_CUSTOMERS = 2000


# -- the storm side ------------------------------------------------------------------------

async def start_storm(setup: Setup) -> set[str]:
    """Every feeder of a synthetic utility out, confirmed by operations in one transaction
    (the notices planned in it); returns the text addresses that must hear exactly once."""
    from core.db import make_engine, make_sessionmaker, unit_of_work
    from core.notifications.flows import plan_notices
    from core.notifications.policy import NoticePolicy
    from core.outages import service as outages
    from core.outages.enums import Device, DeviceKind
    from core.storm.synthetic import build_synthetic_utility

    planner = NoticePolicy(quiet_start=datetime.min.time(), quiet_end=datetime.min.time())
    engine = make_engine(setup.direct_url)
    sessions = make_sessionmaker(engine)
    outages.reset_engines()
    try:
        utility = await build_synthetic_utility(engine, customers=STORM_CUSTOMERS,
                                                tag="CHAOS", subscribed_tenths=5)
        async with unit_of_work(sessions) as session:
            for feeder in utility.feeder_ids:
                change = await outages.confirm_outage(
                    session, device=Device(DeviceKind.FEEDER, feeder), cause="storm")
                await plan_notices(session, change.events, policy=planner)
    finally:
        await engine.dispose()
    return {a for a in utility.expected_addresses(utility.feeder_ids) if "@" not in a}


async def notices_settled(setup: Setup) -> tuple[int, int]:
    """(final, total) text notices in the outbox."""
    rows = await notice_statuses(setup)
    open_ = sum(rows.get(s, 0) for s in ("pending", "queued", "sending", "held_quiet_hours"))
    total = sum(rows.values())
    return total - open_, total


async def notice_statuses(setup: Setup) -> dict[str, int]:
    from sqlalchemy import func, select

    from core.db import make_engine, make_sessionmaker
    from core.notifications.models import Notice

    engine = make_engine(setup.direct_url)
    try:
        async with make_sessionmaker(engine)() as session:
            rows = dict((await session.execute(
                select(Notice.status, func.count()).where(Notice.channel != "email")
                .group_by(Notice.status))).all())
    finally:
        await engine.dispose()
    return rows


async def wait_notices(setup: Setup, *, share: float = 1.0, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        final, total = await notices_settled(setup)
        if total and final >= share * total:
            return
        await asyncio.sleep(0.5)


async def tally_notices(setup: Setup, expected: set[str]) -> tuple[int, int, int, str]:
    """(notices sent, lost, doubled, detail): each expected address heard exactly once."""
    # Notices go from the short codes (texts) and from their WhatsApp form.
    senders = {*SENDERS, *(f"whatsapp:{s}" for s in SENDERS)}
    accepted = [m for m in await setup.accepted() if m["from"] in senders
                and kind_of(m["body"]) == "initial"]
    heard = Counter(m["to"] for m in accepted)
    lost = len(expected - set(heard))
    doubled = sum(n - 1 for n in heard.values() if n > 1)
    strangers = len(set(heard) - expected)  # a notice to someone not subscribed is wrong too
    async with __import__("httpx").AsyncClient(timeout=10) as http:
        stats = (await http.get(setup.fake_base + "/_fake/stats")).json()
    statuses = await notice_statuses(setup)
    detail = (f"{len(expected)} subscribed text addresses, outbox {statuses}; fake Twilio refused "
              f"{stats.get('injected_429', 0) + stats.get('burst_429', 0) + stats.get('rate_limited', 0)}"
              f" with 429 and {stats.get('injected_500', 0)} with 500")
    return len(accepted), lost + strangers, doubled, detail


# -- the drills ----------------------------------------------------------------------------

async def _drill(name: str, setup: Setup,
                 body: Callable[[Setup], Awaitable[Row]]) -> Row:
    started = time.monotonic()
    try:
        await setup.start()
        row = await body(setup)
    finally:
        await setup.stop()
    row.seconds = time.monotonic() - started
    return row


async def api_kill() -> Row:
    """Two API processes (one load balancer's pool); SIGKILL one mid-load, restart it."""
    setup = Setup("api_kill", apis=2)

    async def body(s: Setup) -> Row:
        phones = Phones(s, s.api_ports)
        victim = s.api_ports[0]

        async def fault() -> None:
            await asyncio.sleep(4)
            s.kill(s.apis[victim])
            await asyncio.sleep(3)
            s.start_api(victim)

        await phones.run(senders=16, per_sender=25, tag="AK", during=fault)
        n_in, out, lost, doubled, detail = await tally_messages(s, phones, sid_prefix="AK")
        return Row("kill an API process under load", n_in, out, 0, lost, doubled, detail=detail)

    return await _drill("api_kill", setup, body)


async def worker_kill() -> Row:
    """SIGKILL a worker mid storm send; a new one takes its place."""
    setup = Setup("worker_kill", fake_args=("--mps", "100"))

    async def body(s: Setup) -> Row:
        expected = await start_storm(s)
        await wait_notices(s, share=0.3)
        s.kill(s.workers[0])
        s.start_worker()
        await wait_notices(s)
        sent, lost, doubled, detail = await tally_notices(s, expected)
        return Row("kill a worker mid storm send", 0, 0, sent, lost, doubled, detail=detail)

    return await _drill("worker_kill", setup, body)


async def redis_restart() -> Row:
    """Restart Redis (bus, queues, locks, token buckets) while texts and a storm go."""
    setup = Setup("redis_restart", fake_args=("--mps", "100"))

    async def body(s: Setup) -> Row:
        expected = await start_storm(s)
        phones = Phones(s, s.api_ports)

        async def fault() -> None:
            await asyncio.sleep(4)
            assert s.redis is not None
            s.kill(s.redis)
            await asyncio.sleep(2)
            s.start_redis()

        await phones.run(senders=8, per_sender=25, tag="RR", during=fault)
        await wait_notices(s)
        n_in, out, lost, doubled, detail = await tally_messages(s, phones, sid_prefix="RR")
        sent, n_lost, n_doubled, n_detail = await tally_notices(s, expected)
        return Row("restart Redis under load", n_in, out, sent, lost + n_lost,
                   doubled + n_doubled, detail=f"{detail}; {n_detail}")

    return await _drill("redis_restart", setup, body)


async def postgres_outage() -> Row:
    """PostgreSQL unreachable for 10 s: webhooks answer 503, Twilio retries, nothing lost."""
    setup = Setup("postgres_outage")

    async def body(s: Setup) -> Row:
        phones = Phones(s, s.api_ports)

        async def fault() -> None:
            await asyncio.sleep(3)
            s.proxy.cut()
            await asyncio.sleep(10)
            s.proxy.restore()

        await phones.run(senders=8, per_sender=40, tag="PG", during=fault, give_up_s=180)
        n_in, out, lost, doubled, detail = await tally_messages(s, phones, sid_prefix="PG",
                                                                settle_s=120)
        return Row("PostgreSQL unavailable for 10 s", n_in, out, 0, lost, doubled,
                   detail=detail)

    return await _drill("postgres_outage", setup, body)


async def slow_rasa() -> Row:
    """The bot's Rasa server answers slower than the client's timeout: the embedded NLU
    takes over (and the breaker opens), every text still gets its one reply."""
    from chaos.slow_rasa import SlowRasa

    rasa = SlowRasa(delay_s=5.0)
    await rasa.start()
    setup = Setup("slow_rasa", env={"RASA_URL": rasa.url})

    async def body(s: Setup) -> Row:
        phones = Phones(s, s.api_ports)
        await phones.run(senders=8, per_sender=15, tag="SR")
        n_in, out, lost, doubled, detail = await tally_messages(s, phones, sid_prefix="SR")
        return Row("a slow Rasa", n_in, out, 0, lost, doubled,
                   detail=f"{detail}; Rasa asked {rasa.calls} times")

    try:
        return await _drill("slow_rasa", setup, body)
    finally:
        await rasa.stop()


async def twilio_bursts() -> Row:
    """Fake Twilio refusing in bursts (429 for 1 s in every 3) and 5% random 429/500,
    while replies go by REST and a storm's notices go out."""
    # Every reply by REST (no inline answers), so replies meet the refusals too, not only
    # notices.
    setup = Setup("twilio_bursts", fake_args=("--mps", "100", "--inject-429", "0.05",
                                              "--inject-500", "0.05", "--burst-every", "3",
                                              "--burst-for", "1"),
                  env={"STORMDESK_SMS_INLINE_BUDGET_S": "0"})

    async def body(s: Setup) -> Row:
        expected = await start_storm(s)
        phones = Phones(s, s.api_ports)
        # Replies leave the utility's long code at Twilio's 1 message/s, so few texts and a
        # long settle: the drill asks whether each arrives once, not how fast.
        await phones.run(senders=8, per_sender=8, tag="TB")
        await wait_notices(s)
        n_in, out, lost, doubled, detail = await tally_messages(s, phones, sid_prefix="TB",
                                                                settle_s=240)
        sent, n_lost, n_doubled, n_detail = await tally_notices(s, expected)
        return Row("fake Twilio answering 429 and 500 in bursts", n_in, out, sent,
                   lost + n_lost, doubled + n_doubled, detail=f"{detail}; {n_detail}")

    return await _drill("twilio_bursts", setup, body)


FAULTS: dict[str, Callable[[], Awaitable[Row]]] = {
    "api_kill": api_kill,
    "worker_kill": worker_kill,
    "redis_restart": redis_restart,
    "postgres_outage": postgres_outage,
    "slow_rasa": slow_rasa,
    "twilio_bursts": twilio_bursts,
}
