"""PostgreSQL or Redis gone mid-traffic: the webhook answers 503 with Retry-After (Twilio
retries a 5xx), never a 500 and never a half-written message; the retry, once the service is
back, is stored once and answered.

The outage is real: the app reaches each server through a TCP proxy that the test cuts,
dropping the open connections and refusing new ones, as a database host that vanished."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from messaging_helpers import SMS_PATH, messaging_app, post_signed, sms_payload, wait_for
from sqlalchemy import func, select

from channels import pipeline
from chaos.blackout import Blackout
from core.conversations import flows
from core.conversations.models import Message

CUSTOMER = "+15045550177"
INBOUND_QUEUE = "stormdesk:q:conversations.inbound"


@contextlib.asynccontextmanager
async def proxied(url: str) -> AsyncIterator[tuple[Blackout, str]]:
    async with Blackout.to(url) as proxy:
        yield proxy, proxy.via(url)


def assert_unavailable(response: object) -> None:
    assert response.status_code == 503, response.text  # type: ignore[attr-defined]
    assert response.headers["retry-after"] == "5"  # type: ignore[attr-defined]
    assert response.json()["error"] == "unavailable"  # type: ignore[attr-defined]


@pytest.mark.postgres
async def test_database_gone_is_503_and_the_retry_is_stored_and_answered_once(
        pg_url: str) -> None:
    async with proxied(pg_url) as (proxy, url), messaging_app(url) as h:
        warm = await post_signed(h.client, SMS_PATH, sms_payload(sender=CUSTOMER, body="HELP"))
        assert warm.status_code == 200 and "<Message" in warm.text  # pool connections open

        proxy.cut()
        payload = sms_payload(sender=CUSTOMER, body="HELP")
        # Twice: once on the pooled connections the cut dropped, once on a refused connect.
        for _ in range(2):
            assert_unavailable(await post_signed(h.client, SMS_PATH, payload))

        proxy.restore()
        retry = await post_signed(h.client, SMS_PATH, payload)
        assert retry.status_code == 200 and "<Message" in retry.text
        async with h.runtime.sessions() as session:
            stored = await session.scalar(select(func.count()).select_from(Message).where(
                Message.external_id == payload["MessageSid"]))
        assert stored == 1
        replies = await h.messages(Message.direction == "outbound")
        assert len(replies) == 2  # one per text, none for the refused deliveries


@pytest.mark.redis
async def test_redis_gone_is_503_and_the_stored_message_is_recovered(
        sqlite_url: str, private_redis_url: str) -> None:
    async with (proxied(private_redis_url) as (proxy, url),
                messaging_app(sqlite_url, redis_url=url, inline_budget_s=0.2) as h):
        proxy.cut()
        payload = sms_payload(sender=CUSTOMER, body="HELP")
        # The message commits before its handling starts, so it is kept (not half-written:
        # whole, just not yet handled); the 503 makes Twilio deliver it again.
        assert_unavailable(await post_signed(h.client, SMS_PATH, payload))

        proxy.restore()
        # The workers of a production deployment (this app is an API process only).
        stop = asyncio.Event()
        workers = asyncio.create_task(pipeline.run_workers(h.runtime, stop))
        try:
            retry = await post_signed(h.client, SMS_PATH, payload)
            assert retry.status_code == 200
            inline = retry.text.count("<Message")

            # Either the refused request's own handling gets its lock once Redis is back, or
            # the retry gives up on that request and queues the job: handled once, and the
            # reply reaches the customer once (in the retry's answer or by REST).
            async def answered() -> bool:
                [inbound] = await h.messages(Message.external_id == payload["MessageSid"])
                return inbound.handled_at is not None and inline + len(h.twilio.sent) == 1

            await wait_for(answered)
            assert await h.count(Message, Message.direction == "outbound") == 1
            assert await flows.requeue_unhandled(h.runtime, older_than_s=0) == 0
        finally:
            stop.set()
            await workers
    client = aioredis.from_url(private_redis_url)
    try:
        # Nothing left behind: every job queued was handled and acknowledged.
        assert await client.xpending(INBOUND_QUEUE, flows.WORKER_GROUP) == {
            "pending": 0, "min": None, "max": None, "consumers": []}
    finally:
        await client.aclose()
