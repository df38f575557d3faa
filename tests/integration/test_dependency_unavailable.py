"""PostgreSQL or Redis gone mid-traffic: the webhook answers 503 with Retry-After (Twilio
retries a 5xx), never a 500 and never a half-written message; the retry, once the service is
back, is stored once and answered.

The outage is real: the app reaches each server through a TCP proxy that the test cuts,
dropping the open connections and refusing new ones, as a database host that vanished."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from messaging_helpers import SMS_PATH, messaging_app, post_signed, sms_payload
from sqlalchemy import func, select

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
        # The message commits before its job is queued, so it is kept (not half-written:
        # whole, just not yet queued); the 503 makes Twilio deliver it again.
        assert_unavailable(await post_signed(h.client, SMS_PATH, payload))

        proxy.restore()
        retry = await post_signed(h.client, SMS_PATH, payload)
        assert retry.status_code == 200
        [inbound] = await h.messages(Message.external_id == payload["MessageSid"])
        assert inbound.handled_at is None
        # The sweep every pipeline runs finds it and queues it, so a worker answers it.
        assert await flows.requeue_unhandled(h.runtime, older_than_s=0) == 1
    client = aioredis.from_url(private_redis_url)
    try:
        assert await client.xlen(INBOUND_QUEUE) == 1  # the refused request queued nothing
    finally:
        await client.aclose()
