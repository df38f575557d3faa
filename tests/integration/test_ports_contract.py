"""One contract for the shared-state ports, run against the in-process and the Redis adapters,
so code tested on the embedded default behaves the same in production."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from core.local import local_ports
from core.ports import Delivery, Ports
from integrations.redis import RedisEventBus, health, redis_ports

pytestmark = pytest.mark.timeout(60)

# Deadline for anything that should happen "now": generous, only there so a bug fails fast.
SOON_S = 5.0


async def _purge(url: str, namespace: str) -> None:
    client = aioredis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{namespace}:*", count=500)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture(params=["local", pytest.param("redis", marks=pytest.mark.redis)])
def backend_url(request: pytest.FixtureRequest) -> str | None:
    """None for the in-process adapters, else the Redis URL (skips/fails as conftest decides)."""
    return request.getfixturevalue("redis_url") if request.param == "redis" else None


@pytest.fixture
async def ports(backend_url: str | None, namespace: str) -> AsyncIterator[Ports]:
    built = local_ports() if backend_url is None else redis_ports(backend_url, namespace)
    yield built
    await built.close()
    if backend_url is not None:
        await _purge(backend_url, namespace)


@pytest.fixture
async def two_processes(redis_url: str, namespace: str) -> AsyncIterator[tuple[Ports, Ports]]:
    """Two independent clients (own connection pools) on one namespace, as two processes."""
    first, second = redis_ports(redis_url, namespace), redis_ports(redis_url, namespace)
    yield first, second
    await first.close()
    await second.close()
    await _purge(redis_url, namespace)


async def _until(probe: Callable[[], Awaitable[Any]], *, timeout_s: float = SOON_S) -> Any:
    """Poll `probe` until it returns something truthy; for states no event announces."""
    async with asyncio.timeout(timeout_s):
        while not (result := await probe()):
            await asyncio.sleep(0.02)
    return result


# --- event bus ------------------------------------------------------------------------------


async def test_bus_fans_out_to_every_subscriber_of_the_topic_only(ports: Ports) -> None:
    bus = ports.bus
    async with (
        bus.subscribe("outage") as first,
        bus.subscribe("outage") as second,
        bus.subscribe("billing") as billing,
    ):
        await bus.publish("billing", {"n": 0})
        await bus.publish("outage", {"n": 1, "premise": "P-1", "etr": None})
        await bus.publish("billing", {"n": 2})
        async with asyncio.timeout(SOON_S):
            assert await anext(first) == {"n": 1, "premise": "P-1", "etr": None}
            assert await anext(second) == {"n": 1, "premise": "P-1", "etr": None}
            # In publish order, and the outage event in between never reached this subscriber.
            assert await anext(billing) == {"n": 0}
            assert await anext(billing) == {"n": 2}


async def test_bus_publish_many_delivers_each_event_in_order(ports: Ports) -> None:
    bus = ports.bus
    async with bus.subscribe("inline") as inline, bus.subscribe("reply") as reply:
        await bus.publish_many([("inline", {"n": 1}), ("reply", {"n": 2}),
                                ("inline", {"n": 3})])
        await bus.publish_many([("reply", {"n": 4})])
        await bus.publish_many([])
        async with asyncio.timeout(SOON_S):
            assert [await anext(inline), await anext(inline)] == [{"n": 1}, {"n": 3}]
            assert [await anext(reply), await anext(reply)] == [{"n": 2}, {"n": 4}]


async def test_bus_neither_replays_nor_delivers_after_unsubscribe(ports: Ports) -> None:
    bus = ports.bus
    await bus.publish("status", {"n": "before anyone listened"})
    async with bus.subscribe("status") as stayer:
        async with bus.subscribe("status") as leaver:
            await bus.publish("status", {"n": 1})
            async with asyncio.timeout(SOON_S):
                assert await anext(leaver) == {"n": 1}
        await bus.publish("status", {"n": 2})
        with pytest.raises(StopAsyncIteration):
            await anext(leaver)
        async with asyncio.timeout(SOON_S):
            assert await anext(stayer) == {"n": 1}
            assert await anext(stayer) == {"n": 2}


async def test_bus_close_ends_open_subscriptions(ports: Ports) -> None:
    received: list[dict[str, Any]] = []
    got_one = asyncio.Event()

    async def listen(events: AsyncIterator[dict[str, Any]]) -> None:
        async for event in events:
            received.append(event)
            got_one.set()

    async with ports.bus.subscribe("storm") as events:
        listener = asyncio.create_task(listen(events))
        await ports.bus.publish("storm", {"n": 1})
        async with asyncio.timeout(SOON_S):
            await got_one.wait()
            await ports.bus.close()
            await listener  # returns because the iteration ended, not because we cancelled it
    assert received == [{"n": 1}]


async def test_bus_leaving_the_subscription_ends_an_iteration_in_another_task(
    ports: Ports,
) -> None:
    async with ports.bus.subscribe("agent:3") as events:
        listener = asyncio.create_task(anext(events, None))
        await asyncio.sleep(0)  # let it start waiting; the outcome does not depend on it
    async with asyncio.timeout(SOON_S):
        assert await listener is None


# --- durable queue --------------------------------------------------------------------------


async def test_queue_consumers_in_one_group_split_entries_without_duplicates(
    ports: Ports,
) -> None:
    queue = ports.queue
    sent = {await queue.enqueue("outbox", {"n": n}): n for n in range(20)}
    seen: dict[str, list[int]] = {"w1": [], "w2": []}
    ids: list[str] = []
    while len(ids) < len(sent):
        before = len(ids)
        for consumer in ("w1", "w2"):
            batch = await queue.read("outbox", "senders", consumer, count=3, block_ms=0)
            seen[consumer] += [d.payload["n"] for d in batch]
            ids += [d.id for d in batch]
            assert all(d.attempts == 1 for d in batch)
        assert len(ids) > before, "entries left undelivered"
    assert sorted(ids) == sorted(sent)
    assert len(set(ids)) == len(ids)
    assert seen["w1"] and seen["w2"]
    assert not set(seen["w1"]) & set(seen["w2"])
    assert await queue.pending_count("outbox", "senders") == 20
    for delivery_id in ids:
        await queue.ack("outbox", "senders", delivery_id)
    assert await queue.pending_count("outbox", "senders") == 0
    assert await queue.read("outbox", "senders", "w1", block_ms=0) == []
    assert await queue.claim_stale("outbox", "senders", "w2", min_idle_ms=0) == []


async def test_queue_concurrent_consumers_lose_and_repeat_nothing(ports: Ports) -> None:
    queue = ports.queue
    for n in range(30):
        await queue.enqueue("jobs", {"n": n})

    async def work(consumer: str) -> list[int]:
        done: list[int] = []
        while batch := await queue.read("jobs", "workers", consumer, count=4, block_ms=100):
            for delivery in batch:
                done.append(delivery.payload["n"])
                await queue.ack("jobs", "workers", delivery.id)
        return done

    async with asyncio.timeout(SOON_S * 2):
        first, second = await asyncio.gather(work("a"), work("b"))
    assert sorted(first + second) == list(range(30))
    assert await queue.pending_count("jobs", "workers") == 0


async def test_queue_reclaims_unacked_entries_after_min_idle(ports: Ports) -> None:
    queue = ports.queue
    for n in range(3):
        await queue.enqueue("notify", {"n": n})
    started = time.monotonic()
    taken = await queue.read("notify", "senders", "crashed", count=10, block_ms=0)
    assert [d.payload["n"] for d in taken] == [0, 1, 2]
    await queue.ack("notify", "senders", taken[0].id)
    assert await queue.pending_count("notify", "senders") == 2

    # Not idle long enough yet: a live worker keeps its entries.
    assert await queue.claim_stale("notify", "senders", "rescuer", min_idle_ms=60_000) == []

    async def claim() -> list[Delivery]:
        return await queue.claim_stale("notify", "senders", "rescuer", min_idle_ms=100)

    reclaimed = await _until(claim)
    assert time.monotonic() - started >= 0.095
    assert [d.id for d in reclaimed] == [taken[1].id, taken[2].id]
    assert [d.payload for d in reclaimed] == [{"n": 1}, {"n": 2}]
    assert [d.attempts for d in reclaimed] == [2, 2]

    # Claiming resets the idle clock; and read never hands out already-delivered entries.
    assert await queue.claim_stale("notify", "senders", "third", min_idle_ms=60_000) == []
    assert await queue.read("notify", "senders", "crashed", block_ms=0) == []
    assert await queue.pending_count("notify", "senders") == 2
    for delivery in reclaimed:
        await queue.ack("notify", "senders", delivery.id)
    assert await queue.pending_count("notify", "senders") == 0
    assert await queue.claim_stale("notify", "senders", "third", min_idle_ms=0) == []


async def test_queue_claim_stale_honours_count_and_counts_each_claim(ports: Ports) -> None:
    queue = ports.queue
    for n in range(5):
        await queue.enqueue("s", {"n": n})
    await queue.read("s", "g", "c1", count=5, block_ms=0)
    first = await queue.claim_stale("s", "g", "c2", min_idle_ms=0, count=2)
    assert [d.payload["n"] for d in first] == [0, 1]
    everything = await queue.claim_stale("s", "g", "c3", min_idle_ms=0)
    assert [(d.payload["n"], d.attempts) for d in everything] == [
        (0, 3), (1, 3), (2, 2), (3, 2), (4, 2)
    ]


async def test_queue_read_blocks_until_an_entry_arrives(ports: Ports) -> None:
    queue = ports.queue
    started = time.monotonic()
    assert await queue.read("inbound", "bot", "c", block_ms=100) == []
    assert time.monotonic() - started >= 0.09

    reader = asyncio.create_task(queue.read("inbound", "bot", "c", block_ms=10_000))
    await asyncio.sleep(0)  # let the reader start waiting; correctness does not depend on it
    started = time.monotonic()
    entry_id = await queue.enqueue("inbound", {"text": "power's out"})
    async with asyncio.timeout(SOON_S):
        batch = await reader
    assert time.monotonic() - started < SOON_S
    assert [(d.id, d.payload) for d in batch] == [(entry_id, {"text": "power's out"})]


async def test_queue_groups_each_get_every_entry_including_earlier_ones(ports: Ports) -> None:
    queue = ports.queue
    await queue.enqueue("events", {"n": 1})  # before any group exists
    await queue.enqueue("events", {"n": 2})
    for group in ("audit", "notify"):
        batch = await queue.read("events", group, "c", block_ms=0)
        assert [d.payload for d in batch] == [{"n": 1}, {"n": 2}]
    assert await queue.pending_count("events", "audit") == 2
    assert await queue.pending_count("events", "never-read") == 0
    assert await queue.pending_count("no-such-stream", "g") == 0


async def test_queue_payloads_travel_as_json(ports: Ports) -> None:
    queue = ports.queue
    payload = {"to": "+15551234567", "body": "Crews are on site ⚡", "n": [1, 2.5, None, True]}
    await queue.enqueue("sms", payload)
    [delivery] = await queue.read("sms", "g", "c", block_ms=0)
    assert delivery.payload == payload
    with pytest.raises(TypeError):
        await queue.enqueue("sms", {"at": time})  # not JSON: refused on both adapters alike


# --- lock -----------------------------------------------------------------------------------


async def _contend(holders: list[Any], key: str, rounds: int) -> list[tuple[str, int]]:
    """Each holder (a Lock) enters `key` `rounds` times; returns the enter/exit log."""
    log: list[tuple[str, int]] = []

    async def worker(who: int, lock: Any) -> None:
        for _ in range(rounds):
            async with lock.hold(key, ttl_s=10, wait_s=SOON_S * 2):
                log.append(("enter", who))
                await asyncio.sleep(0.005)  # the guarded work; gives a broken lock room to overlap
                log.append(("exit", who))

    await asyncio.gather(*(worker(who, lock) for who, lock in enumerate(holders)))
    return log


def _assert_never_overlapped(log: list[tuple[str, int]]) -> None:
    for entered, exited in zip(log[::2], log[1::2], strict=True):
        assert entered[0] == "enter" and exited == ("exit", entered[1]), log


async def test_lock_contenders_never_overlap(ports: Ports) -> None:
    log = await _contend([ports.lock] * 3, "conversation:42", rounds=4)
    assert len(log) == 24
    _assert_never_overlapped(log)


async def test_lock_different_keys_are_held_concurrently(ports: Ports) -> None:
    lock = ports.lock
    holding, done = asyncio.Event(), asyncio.Event()

    async def hold_first() -> None:
        async with lock.hold("conversation:1"):
            holding.set()
            await done.wait()

    first = asyncio.create_task(hold_first())
    async with asyncio.timeout(SOON_S):
        await holding.wait()
        async with lock.hold("conversation:2", wait_s=1.0):
            assert not first.done()
        done.set()
        await first


async def test_lock_times_out_when_wait_is_exceeded(ports: Ports) -> None:
    lock = ports.lock
    async with lock.hold("account:7"):
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            async with lock.hold("account:7", wait_s=0.2):
                pytest.fail("entered a lock that is held")
        assert 0.19 <= time.monotonic() - started < SOON_S
    async with lock.hold("account:7", wait_s=0.0):
        pass  # released on exit, so a no-wait attempt now succeeds


async def test_lock_ttl_frees_a_dead_holders_lock_which_it_then_cannot_release(
    ports: Ports,
) -> None:
    lock = ports.lock
    started = time.monotonic()
    dead = lock.hold("premise:9", ttl_s=0.3)
    await dead.__aenter__()  # a holder that stalls (or dies) without releasing
    async with lock.hold("premise:9", ttl_s=10, wait_s=SOON_S):
        assert time.monotonic() - started >= 0.29  # not before the TTL ran out
        await dead.__aexit__(None, None, None)  # the stalled holder finishes late and "releases"
        with pytest.raises(TimeoutError):
            async with lock.hold("premise:9", wait_s=0.1):
                pytest.fail("the late holder freed the new holder's lock")
    async with lock.hold("premise:9", wait_s=0.0):
        pass


async def test_lock_given_back_with_the_events_frees_it_after_they_are_published(
    ports: Ports,
) -> None:
    """A handler's last step: its events, then its lock, in one call (one Redis round trip).
    The next holder comes after the events; the block's end then releases nothing more."""
    seen: list[dict[str, Any]] = []
    async with ports.bus.subscribe("conversations.events") as events:
        async def read() -> None:
            async for event in events:
                seen.append(event)
                if len(seen) == 2:
                    return

        reader = asyncio.create_task(read())
        next_holder = ports.lock.hold("conversation:5", wait_s=0.0)
        async with ports.lock.hold("conversation:5") as held:
            await ports.bus.publish_many([("conversations.events", {"n": 1}),
                                          ("conversations.events", {"n": 2})], release=held)
            assert held.released
            await next_holder.__aenter__()  # free already, inside the first block
        # The first block's end released nothing more: the next holder still has it.
        with pytest.raises(TimeoutError):
            async with ports.lock.hold("conversation:5", wait_s=0.05):
                pytest.fail("the first block's end freed the next holder's lock")
        await next_holder.__aexit__(None, None, None)
        await asyncio.wait_for(reader, SOON_S)
    assert seen == [{"n": 1}, {"n": 2}]
    async with ports.lock.hold("conversation:5") as again:
        await ports.bus.publish_many([], release=again)  # nothing to say, only the lock
        assert again.released
        assert await again.release()  # once only; a second call is a no-op
    async with ports.lock.hold("conversation:5", wait_s=0.0):
        pass


async def test_lock_given_back_by_the_bus_after_its_ttl_says_so(ports: Ports) -> None:
    async with ports.lock.hold("conversation:6", ttl_s=0.2) as held:
        await asyncio.sleep(0.3)
        async with ports.lock.hold("conversation:6", wait_s=0.0) as taker:
            await ports.bus.publish_many([("t", {})], release=held)
            assert held.released
            with pytest.raises(TimeoutError):  # the late release left the new holder's lock
                async with ports.lock.hold("conversation:6", wait_s=0.05):
                    pytest.fail("the expired holder's release freed the new holder's lock")
            assert taker.released is False


@pytest.mark.redis
async def test_redis_lock_given_back_by_the_bus_after_redis_lost_its_scripts(
    redis_url: str, namespace: str,
) -> None:
    """A restarted Redis has no scripts: the pipelined EVALSHA fails with NOSCRIPT, and the
    release falls back to the ordinary call (which loads the script) instead of leaking."""
    built = redis_ports(redis_url, namespace)
    admin = aioredis.from_url(redis_url)
    try:
        async with built.lock.hold("conversation:9") as held:
            await admin.script_flush()
            await built.bus.publish_many([("t", {"n": 1})], release=held)
            assert held.released
            async with built.lock.hold("conversation:9", wait_s=0.0):
                pass
    finally:
        await admin.aclose()
        await built.close()
        await _purge(redis_url, namespace)


# --- rate limiter ---------------------------------------------------------------------------


async def _drive(limiters: list[Any], key: str, *, rate: float, burst: int, window_s: float
                 ) -> tuple[int, float]:
    """Take tokens as fast as the bucket allows from every limiter at once for `window_s`;
    returns (tokens granted, seconds from the first request to the last reply)."""
    granted = 0
    started = time.monotonic()

    async def take(limiter: Any) -> None:
        nonlocal granted
        while time.monotonic() - started < window_s:
            wait = await limiter.try_acquire(key, rate=rate, burst=burst)
            if wait == 0:
                granted += 1
            else:
                await asyncio.sleep(wait)

    await asyncio.gather(*(take(limiter) for limiter in limiters))
    return granted, time.monotonic() - started


async def test_limiter_never_grants_more_than_burst_plus_rate(ports: Ports) -> None:
    rate, burst = 50.0, 5
    granted, elapsed = await _drive([ports.limiter] * 2, "sender:twilio", rate=rate, burst=burst,
                                    window_s=0.4)
    assert granted <= burst + rate * elapsed + 0.05  # must hold, however slow the machine
    assert granted >= burst + rate * elapsed * 0.5  # a bucket holding 100 ms hides stalls


async def test_limiter_reports_the_wait_when_empty(ports: Ports) -> None:
    limiter = ports.limiter
    assert await limiter.try_acquire("k", rate=2, burst=2) == 0.0
    assert await limiter.try_acquire("k", rate=2, burst=2) == 0.0
    wait = await limiter.try_acquire("k", rate=2, burst=2)
    assert 0 < wait <= 0.5
    assert 0.5 < await limiter.try_acquire("k", rate=2, burst=2, tokens=2) <= 1.0
    assert await limiter.try_acquire("other", rate=2, burst=2) == 0.0  # buckets are per key
    with pytest.raises(ValueError):
        await limiter.try_acquire("k", rate=2, burst=2, tokens=3)


async def test_limiter_acquire_waits_for_refill(ports: Ports) -> None:
    rate, burst, wanted = 50.0, 5, 15
    started = time.monotonic()
    for _ in range(wanted):
        await ports.limiter.acquire("sender:smtp", rate=rate, burst=burst)
    elapsed = time.monotonic() - started
    assert (wanted - burst) / rate - 0.01 <= elapsed < SOON_S


# --- dedupe ---------------------------------------------------------------------------------


async def test_dedupe_first_time_is_true_exactly_once_among_concurrent_callers(
    ports: Ports,
) -> None:
    answers = await asyncio.gather(*(ports.dedupe.first_time("SM123") for _ in range(50)))
    assert answers.count(True) == 1
    assert await ports.dedupe.first_time("SM124") is True


async def test_dedupe_forgets_after_ttl(ports: Ports) -> None:
    started = time.monotonic()
    assert await ports.dedupe.first_time("retry", ttl_s=0.2) is True
    assert await ports.dedupe.first_time("retry", ttl_s=0.2) is False
    await _until(lambda: ports.dedupe.first_time("retry", ttl_s=0.2))
    assert time.monotonic() - started >= 0.19


async def test_dedupe_seen_reads_a_key_without_setting_it(ports: Ports) -> None:
    assert await ports.dedupe.seen("SM200") is False
    assert await ports.dedupe.seen("SM200") is False  # looking did not set it
    assert await ports.dedupe.first_time("SM200", ttl_s=0.2) is True
    assert await ports.dedupe.seen("SM200") is True
    await _until(lambda: _not(ports.dedupe.seen("SM200")))


async def test_dedupe_note_all_sets_every_key_at_once(ports: Ports) -> None:
    assert await ports.dedupe.first_time("SM300") is True
    await ports.dedupe.note_all(["SM300", "SM301", "SM302"], ttl_s=0.2)
    assert [await ports.dedupe.seen(k) for k in ("SM300", "SM301", "SM302", "SM303")] == [
        True, True, True, False]
    assert await ports.dedupe.first_time("SM301") is False
    await ports.dedupe.note_all([])
    await _until(lambda: _not(ports.dedupe.seen("SM302")))


async def _not(check: Any) -> bool:
    return not await check


# --- Redis: state shared between processes, and surviving connection loss -------------------


@pytest.mark.redis
async def test_redis_two_processes_share_lock(two_processes: tuple[Ports, Ports]) -> None:
    first, second = two_processes
    log = await _contend([first.lock, second.lock], "conversation:7", rounds=5)
    _assert_never_overlapped(log)
    async with first.lock.hold("conversation:8"):
        with pytest.raises(TimeoutError):
            async with second.lock.hold("conversation:8", wait_s=0.1):
                pytest.fail("second process entered a lock the first holds")


@pytest.mark.redis
async def test_redis_two_processes_share_one_bucket(two_processes: tuple[Ports, Ports]) -> None:
    first, second = two_processes
    for _ in range(5):
        assert await first.limiter.try_acquire("slow", rate=1, burst=5) == 0.0
    assert await second.limiter.try_acquire("slow", rate=1, burst=5) > 0

    rate, burst = 50.0, 5
    granted, elapsed = await _drive([first.limiter, second.limiter], "fast", rate=rate,
                                    burst=burst, window_s=0.4)
    assert granted <= burst + rate * elapsed + 0.05  # separate buckets would grant about twice


@pytest.mark.redis
async def test_redis_two_processes_share_queue_and_dedupe(
    two_processes: tuple[Ports, Ports],
) -> None:
    first, second = two_processes
    entry_id = await first.queue.enqueue("outbox", {"n": 1})
    [delivery] = await second.queue.read("outbox", "senders", "p2", block_ms=0)
    assert delivery.id == entry_id
    assert await first.queue.pending_count("outbox", "senders") == 1
    [reclaimed] = await first.queue.claim_stale("outbox", "senders", "p1", min_idle_ms=0)
    assert (reclaimed.id, reclaimed.attempts) == (entry_id, 2)
    await second.queue.ack("outbox", "senders", entry_id)
    assert await first.queue.pending_count("outbox", "senders") == 0

    answers = await asyncio.gather(
        *(ports.dedupe.first_time("SM9") for ports in (first, second) for _ in range(25))
    )
    assert answers.count(True) == 1


@pytest.mark.redis
async def test_redis_subscription_survives_a_dropped_connection(
    redis_url: str, namespace: str
) -> None:
    name = f"{namespace}:subscriber"  # to find (and kill) exactly this test's connection
    subscriber = aioredis.from_url(redis_url, client_name=name)
    admin = aioredis.from_url(redis_url, decode_responses=True)
    bus = RedisEventBus(subscriber, namespace=namespace)
    publisher = RedisEventBus(admin, namespace=namespace)
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def listen(events: AsyncIterator[dict[str, Any]]) -> None:
        async for event in events:
            inbox.put_nowait(event)

    try:
        async with bus.subscribe("agent:1") as events:
            listener = asyncio.create_task(listen(events))
            killed = 0
            for client in await admin.client_list():
                if client.get("name") == name:
                    killed += await admin.client_kill_filter(_id=client["id"])
            assert killed >= 1

            async def delivered() -> dict[str, Any] | None:
                # Events sent while it is reconnecting are lost (pub/sub); keep sending.
                await publisher.publish("agent:1", {"n": "after"})
                return inbox.get_nowait() if not inbox.empty() else None

            assert await _until(delivered, timeout_s=10) == {"n": "after"}
            await bus.close()
            async with asyncio.timeout(SOON_S):
                await listener
        # Leaving the subscription closed its connection; the server notices asynchronously.
        channel = f"{namespace}:bus:agent:1"

        async def unsubscribed() -> bool:
            return (await admin.pubsub_numsub(channel))[0][1] == 0

        await _until(unsubscribed)
    finally:
        await subscriber.aclose()
        await admin.aclose()


@pytest.mark.redis
async def test_redis_health(redis_url: str) -> None:
    client = aioredis.from_url(redis_url)
    assert await health(client) is True
    await client.aclose()
    dead = aioredis.from_url("redis://127.0.0.1:1/0")  # nothing listens on port 1
    assert await health(dead, timeout_s=1.0) is False
    await dead.aclose()
