"""Handling in the API process (core/conversations/direct.py): a webhook with a free slot
handles its own message and no job is queued; with the slots taken, or with direct handling
off, the job goes to the workers as before; if handling here fails, the job is queued and a
worker answers. Every path ends with the reply, once."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from contextlib import asynccontextmanager
from typing import Any

from messaging_helpers import SMS_PATH, messaging_app, post_signed, sms_payload, wait_for

from core.conversations.flows import INBOUND_STREAM, INLINE_TOPIC, conversation_lock
from core.conversations.models import Message
from core.conversations.schemas import BotOutcome, Reply

LONG_BUDGET_S = 30.0


def bodies(twiml: str) -> list[str]:
    return [m.findtext("Body") or "" for m in ET.fromstring(twiml).findall("Message")]


def count_jobs(runtime: Any) -> list[dict[str, Any]]:
    """Record every inbound job queued (and still queue it)."""
    jobs: list[dict[str, Any]] = []
    enqueue = runtime.queue.enqueue

    async def recording(stream: str, payload: dict[str, Any]) -> str:
        if stream == INBOUND_STREAM:
            jobs.append(payload)
        return await enqueue(stream, payload)

    runtime.queue.enqueue = recording
    return jobs


class GatedBot:
    """Echoes, but the first turn waits until released (holds its slot meanwhile)."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.turns = 0

    async def respond(self, session: Any, turn: Any) -> BotOutcome:
        self.turns += 1
        if self.turns == 1:
            await self.release.wait()
        return BotOutcome(replies=(Reply(text=f"echo {turn.text}"),))


async def test_a_free_slot_handles_the_message_here_without_a_job(db_url: str) -> None:
    async with messaging_app(db_url, inline_budget_s=LONG_BUDGET_S) as h:
        jobs = count_jobs(h.runtime)
        publishes: list[list[str]] = []
        releases: list[Any] = []
        publish_many = h.runtime.bus.publish_many

        async def recording(events: Any, *, release: Any = None) -> None:
            publishes.append([topic for topic, _ in events])
            releases.append(release)
            await publish_many(events, release=release)

        h.runtime.bus.publish_many = recording
        async with asyncio.timeout(15):
            response = await post_signed(h.client, SMS_PATH,
                                         sms_payload(sender="+15045550123", body="HELP"))
        [text] = bodies(response.text)
        assert "Riverbend Public Utilities" in text
        assert jobs == []
        # The waiting webhook is in this process: woken directly, not through the bus; the
        # message is announced with its reply, in one bus round trip.
        assert publishes == [["conversations.message_received",
                              "conversations.reply_recorded"]]
        assert INLINE_TOPIC not in publishes[0]
        # ...and the conversation's lock given back in that same call, after the events.
        [held] = releases
        assert held is not None and held.released
        [inbound] = await h.messages(Message.direction == "inbound")
        assert inbound.handled_at is not None and inbound.inline_state == "answered"
        async with h.runtime.lock.hold(conversation_lock(inbound.conversation_id), wait_s=0):
            pass


async def test_with_direct_handling_off_every_message_is_a_job(db_url: str) -> None:
    async with messaging_app(db_url, inline_budget_s=LONG_BUDGET_S, direct_slots=0) as h:
        jobs = count_jobs(h.runtime)
        response = await post_signed(h.client, SMS_PATH,
                                     sms_payload(sender="+15045550123", body="HELP"))
        assert "Riverbend Public Utilities" in bodies(response.text)[0]
        assert [job["message_id"] for job in jobs] == [
            m.id for m in await h.messages(Message.direction == "inbound")]


async def test_a_message_waits_for_a_busy_slot_and_is_handled_here(db_url: str) -> None:
    bot = GatedBot()
    async with messaging_app(db_url, inline_budget_s=LONG_BUDGET_S, responder=bot,
                             direct_slots=1, direct_wait_s=10.0) as h:
        jobs = count_jobs(h.runtime)
        first = await _hold_the_slot(h, bot)
        second = asyncio.create_task(post_signed(
            h.client, SMS_PATH, sms_payload(sender="+15045550124", body="two")))
        direct = h.runtime.extras["direct_handling"]

        async def both_taken() -> bool:
            return direct.running == 2

        await wait_for(both_taken)
        assert not second.done() and bot.turns == 1  # waiting for the slot, not handled
        bot.release.set()
        async with asyncio.timeout(15):
            assert bodies((await first).text) == ["echo one"]
            assert bodies((await second).text) == ["echo two"]
        assert jobs == []


async def test_with_the_slots_taken_the_next_message_goes_to_a_worker(db_url: str) -> None:
    bot = GatedBot()
    async with messaging_app(db_url, inline_budget_s=LONG_BUDGET_S, responder=bot,
                             direct_slots=1, direct_wait_s=0.0) as h:
        jobs = count_jobs(h.runtime)
        first = await _hold_the_slot(h, bot)
        async with asyncio.timeout(15):  # answered while the first still holds the slot
            second = await post_signed(h.client, SMS_PATH,
                                       sms_payload(sender="+15045550124", body="two"))
        assert bodies(second.text) == ["echo two"]
        assert len(jobs) == 1 and not first.done()
        bot.release.set()
        assert bodies((await first).text) == ["echo one"]
        assert len(jobs) == 1


async def test_a_failure_here_queues_the_job_and_a_worker_answers(db_url: str) -> None:
    async with messaging_app(db_url, inline_budget_s=LONG_BUDGET_S) as h:
        jobs = count_jobs(h.runtime)
        hold = h.runtime.lock.hold
        failed: list[str] = []

        @asynccontextmanager
        async def fails_once(key: str, **kwargs: Any) -> Any:
            if key.startswith("conversation:") and not failed:
                failed.append(key)
                raise ConnectionError("lock service unreachable")
            async with hold(key, **kwargs):
                yield

        h.runtime.lock.hold = fails_once
        async with asyncio.timeout(15):
            response = await post_signed(h.client, SMS_PATH,
                                         sms_payload(sender="+15045550123", body="HELP"))
        assert "Riverbend Public Utilities" in bodies(response.text)[0]
        assert len(failed) == 1 and len(jobs) == 1
        assert await h.count(Message, Message.direction == "outbound") == 1
        assert h.twilio.sent == []


async def _hold_the_slot(h: Any, bot: GatedBot) -> asyncio.Task[Any]:
    """A first text whose turn holds the only slot until the bot is released."""
    first = asyncio.create_task(post_signed(
        h.client, SMS_PATH, sms_payload(sender="+15045550123", body="one")))
    await wait_for(lambda: _turns(bot, 1))
    return first


async def _turns(bot: GatedBot, n: int) -> bool:
    return bot.turns >= n


async def test_a_retry_after_the_process_died_mid_handling_gets_a_worker_at_once(
        db_url: str) -> None:
    """Stored and taken for handling here, then the process died (no job, nothing handled):
    Twilio's retry gives up on the dead request and queues the job, so a worker answers by
    REST within the inline budget, not at the sweep 30-60 s later."""
    from channels.twilio_sms.parser import TwilioMessageParser
    from core.conversations import flows

    async with messaging_app(db_url, inline_budget_s=0.3) as h:
        payload = sms_payload(sender="+15045550123", body="HELP")
        inbound = TwilioMessageParser(region="US").parse(payload)
        await flows.intake(h.runtime, inbound, expect_inline=lambda _id: None,
                           handle_here=lambda _intake, _events: True)
        async with asyncio.timeout(10):
            retry = await post_signed(h.client, SMS_PATH, payload)
            assert bodies(retry.text) == []

            async def sent() -> bool:
                return len(h.twilio.sent) == 1

            await wait_for(sent)
        assert "Riverbend Public Utilities" in h.twilio.sent[0]["body"]
        [stored] = await h.messages(Message.direction == "inbound")
        assert stored.inline_state == "gave_up" and stored.handled_at is not None


async def test_a_reply_left_unsent_by_a_dead_process_is_sent_once_by_the_sweep(
        db_url: str) -> None:
    """Handled and committed, then the process died before queueing the send: the sweep
    queues the stored reply, the sender sends it once, and a second sweep finds nothing."""
    from datetime import timedelta

    from sqlalchemy import update

    from core.clock import utcnow
    from core.conversations import flows, service
    from core.db import unit_of_work

    async with messaging_app(db_url, inline_budget_s=LONG_BUDGET_S) as h:
        await post_signed(h.client, SMS_PATH, sms_payload(sender="+15045550123", body="HELP"))
        [inbound] = await h.messages(Message.direction == "inbound")
        async with unit_of_work(h.runtime.sessions) as session:
            [row] = await service.record_reply(session, conversation_id=inbound.conversation_id,
                                               reply=Reply(text="left behind"), author="bot")
            await session.execute(update(Message).where(Message.id == row.id).values(
                created_at=utcnow() - timedelta(seconds=60)))
        assert h.twilio.sent == []
        assert await flows.requeue_unsent(h.runtime) == 1

        async def sent() -> bool:
            return len(h.twilio.sent) == 1

        await wait_for(sent)
        assert h.twilio.sent[0]["body"] == "left behind"
        assert await flows.requeue_unsent(h.runtime) == 0
        await asyncio.sleep(0.3)
        assert len(h.twilio.sent) == 1
