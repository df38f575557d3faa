"""100 conversations texting at once, 5 messages each, interleaved: every conversation's
messages are handled in the order they arrived, none dropped, none handled twice.

Twice: on the embedded default (SQLite, in-process workers) and on the production shape
(PostgreSQL + Redis, the API here and two real `stormdesk worker` processes)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import defaultdict
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from messaging_helpers import SMS_PATH, Harness, messaging_app, post_signed, sms_payload
from sqlalchemy.ext.asyncio import AsyncSession

from core.conversations.models import Message
from core.conversations.schemas import BotOutcome, Reply, Turn

CONVERSATIONS = 100
PER_CONVERSATION = 5
ROOT = Path(__file__).resolve().parents[2]


def number(i: int) -> str:
    return f"+1504555{i:04d}"


class EchoBot:
    """Answers each message with what it heard; slow enough to overlap with the next one."""

    async def respond(self, session: AsyncSession, turn: Turn) -> BotOutcome:
        await asyncio.sleep(0)  # let other conversations interleave with this one
        return BotOutcome(replies=(Reply(text=f"ack {turn.text}"),))


async def text_storm(h: Harness, texts: list[str]) -> None:
    """Each conversation sends its messages one after another (a phone waits for its own
    send to go through); all conversations at once, so arrivals interleave."""
    async def conversation(i: int) -> None:
        for text in texts:
            body = text.format(i=i)
            response = await post_signed(h.client, SMS_PATH,
                                         sms_payload(sender=number(i), body=body))
            assert response.status_code == 200, response.text

    await asyncio.gather(*(conversation(i) for i in range(CONVERSATIONS)))


async def assert_in_order_once_each(h: Harness, texts: list[str], *,
                                    timeout_s: float = 60.0) -> None:
    async def all_handled() -> bool:
        # Handled and handed to Twilio: inline in the TwiML ("queued"), or by REST when the
        # bot missed the inline budget (the fake API answers "queued" too).
        rows = await h.messages(Message.direction == "outbound",
                                Message.status.in_(("queued", "sent")))
        return len(rows) >= CONVERSATIONS * PER_CONVERSATION

    async with asyncio.timeout(timeout_s):
        while not await all_handled():
            await asyncio.sleep(0.05)
    messages = await h.messages()
    inbound: dict[str, list[Message]] = defaultdict(list)
    replies: dict[int, list[Message]] = defaultdict(list)
    for m in messages:
        if m.direction == "inbound":
            inbound[m.sender].append(m)
        else:
            replies[m.conversation_id].append(m)
    assert len(inbound) == CONVERSATIONS
    for i in range(CONVERSATIONS):
        got = inbound[number(i)]
        # Stored once each, in the order sent.
        assert [m.body for m in got] == [t.format(i=i) for t in texts]
        assert len({m.conversation_id for m in got}) == 1
        # Handled once each (one reply per message), in the same order.
        answered = replies[got[0].conversation_id]
        assert [r.reply_to_id for r in answered] == [m.id for m in got]
        handled = [m.handled_at for m in got]
        assert None not in handled and handled == sorted(handled)  # type: ignore[type-var]
        assert all(r.status in ("queued", "sent") for r in answered)


async def test_in_order_on_sqlite_with_in_process_workers(sqlite_url: str) -> None:
    texts = [f"message {k} from {{i}}" for k in range(1, PER_CONVERSATION + 1)]
    async with messaging_app(sqlite_url, responder=EchoBot()) as h:
        await text_storm(h, texts)
        await assert_in_order_once_each(h, texts)
        for answered in (await h.messages(Message.direction == "outbound"))[:5]:
            assert answered.body.startswith("ack message")


# Carrier HELP words, written five ways: answered by the compliance rules whatever bot the
# worker processes have wired, so exactly one reply per message is known in advance.
HELP_TEXTS = ["HELP", "help", "INFO", "Help.", "info!"]


@pytest.mark.postgres
@pytest.mark.redis
async def test_in_order_on_postgres_and_redis_with_two_worker_processes(
        many_pg_connections: None, pg_url: str, private_redis_url: str) -> None:
    # The workers use the default namespace: a Redis of this test's own.
    redis_db_url = private_redis_url
    client = aioredis.from_url(redis_db_url)
    env = {**os.environ, "DATABASE_URL": pg_url, "REDIS_URL": redis_db_url,
           "STORMDESK_ENV": "test", "STORMDESK_LOG_JSON": "false",
           "PYTHONPATH": str(ROOT)}
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_API_BASE"):
        env.pop(name, None)
    workers = [await asyncio.create_subprocess_exec(
        sys.executable, "-m", "stormdesk", "worker", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE) for _ in range(2)]
    try:
        async with messaging_app(pg_url, redis_url=redis_db_url) as h:
            assert not h.runtime.settings.embedded  # nothing handled in this process
            await text_storm(h, HELP_TEXTS)
            await assert_in_order_once_each(h, HELP_TEXTS, timeout_s=240)
            # Both processes were consuming the one stream group.
            consumers = await client.xinfo_consumers("stormdesk:q:conversations.inbound",
                                                    "stormdesk-workers")
            assert len(consumers) == 2
        assert [w.returncode for w in workers] == [None, None]  # neither crashed
    finally:
        for worker in workers:
            if worker.returncode is None:
                worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                async with asyncio.timeout(20):
                    _, errors = await worker.communicate()
            except TimeoutError:
                worker.kill()
                _, errors = await worker.communicate()
            if worker.returncode:
                print(errors.decode(errors="replace")[-4000:])
        await client.aclose()
    assert [w.returncode for w in workers] == [0, 0]
