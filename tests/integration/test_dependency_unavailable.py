"""PostgreSQL or Redis gone mid-traffic: the webhook answers 503 with Retry-After (Twilio
retries a 5xx), never a 500 and never a half-written message; the retry, once the service is
back, is stored once and answered.

The outage is real: the app reaches each server through a TCP proxy that the test cuts,
dropping the open connections and refusing new ones, as a database host that vanished."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Self
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis.asyncio as aioredis
from messaging_helpers import SMS_PATH, messaging_app, post_signed, sms_payload
from sqlalchemy import func, select

from core.conversations import flows
from core.conversations.models import Message

CUSTOMER = "+15045550177"
INBOUND_QUEUE = "stormdesk:q:conversations.inbound"


class Blackout:
    """A TCP proxy to one server that can go dark (`cut`) and come back (`restore`)."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.dark = False
        self.port = 0
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._link, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self.cut()
        assert self._server is not None
        self._server.close()

    def via(self, url: str) -> str:
        """`url` with its host and port replaced by this proxy's."""
        parts = urlsplit(url)
        user = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
        return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{self.port}"))

    def cut(self) -> None:
        self.dark = True
        for link in list(self._links):
            link.transport.abort()
        self._links.clear()

    def restore(self) -> None:
        self.dark = False

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.dark:
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        self._links.update((writer, up_writer))

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()
            self._links.discard(dst)

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))


@contextlib.asynccontextmanager
async def proxied(url: str) -> AsyncIterator[tuple[Blackout, str]]:
    parts = urlsplit(url)
    async with Blackout(parts.hostname or "127.0.0.1", parts.port or 0) as proxy:
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
