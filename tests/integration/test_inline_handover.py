"""The inline hand-over: the handler checks consent and hands text replies to the waiting
webhook with the wake-up, so the webhook answers at once and without a database round trip;
if the wake-up is lost, the webhook still sends exactly what was handed to it, once."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from typing import Any

from messaging_helpers import SMS_PATH, messaging_app, post_signed, sms_payload

from core.conversations.flows import INLINE_ANSWERS, INLINE_TOPIC
from core.conversations.models import Message

CUSTOMER = "+15045550123"
# Far past anything the tests wait: an answer that comes back must have been woken.
LONG_BUDGET_S = 60.0


def bodies(twiml: str) -> list[str]:
    return [m.findtext("Body") or "" for m in ET.fromstring(twiml).findall("Message")]


async def test_the_reply_rides_the_wake_up_not_the_budget(db_url: str) -> None:
    async with messaging_app(db_url, inline_budget_s=LONG_BUDGET_S) as h:
        async with asyncio.timeout(15):
            response = await post_signed(h.client, SMS_PATH,
                                         sms_payload(sender=CUSTOMER, body="HELP"))
        assert response.status_code == 200
        [text] = bodies(response.text)
        assert "Riverbend Public Utilities" in text
        [inbound] = await h.messages(Message.direction == "inbound")
        assert inbound.inline_state == "answered"
        [reply] = await h.messages(Message.direction == "outbound")
        assert reply.status == "queued" and reply.body == text
        assert h.twilio.sent == []


async def test_an_opted_out_number_gets_only_the_confirmation_inline(db_url: str) -> None:
    async with messaging_app(db_url, inline_budget_s=LONG_BUDGET_S) as h:
        async with asyncio.timeout(30):
            stop = await post_signed(h.client, SMS_PATH, sms_payload(sender=CUSTOMER,
                                                                     body="STOP"))
            later = await post_signed(h.client, SMS_PATH, sms_payload(sender=CUSTOMER,
                                                                      body="STAT"))
            start = await post_signed(h.client, SMS_PATH, sms_payload(sender=CUSTOMER,
                                                                      body="START"))
        [confirmation] = bodies(stop.text)
        assert "unsubscribed" in confirmation
        assert bodies(later.text) == []  # answered at once, and with nothing
        [welcome_back] = bodies(start.text)
        assert "subscribed again" in welcome_back
        replies = await h.messages(Message.direction == "outbound")
        assert [r.status for r in replies if r.purpose == "compliance"] == ["queued"]
        to_stat = [r for r in replies if r.reply_to_id is not None
                   and r.body not in (confirmation, welcome_back)]
        assert to_stat and {r.status for r in to_stat} == {"suppressed"}
        assert h.twilio.sent == []


async def test_a_lost_wake_up_still_sends_the_handed_over_reply_once(db_url: str) -> None:
    async with messaging_app(db_url, inline_budget_s=0.5) as h:
        publish = h.runtime.bus.publish

        async def drop_wake_ups(topic: str, payload: dict[str, Any]) -> None:
            if topic != INLINE_TOPIC:
                await publish(topic, payload)

        h.runtime.bus.publish = drop_wake_ups  # type: ignore[method-assign]
        # Handled in this process, the wake-up would not go by the bus at all: lose it too.
        h.runtime.extras[INLINE_ANSWERS].wake_here = lambda event: False
        response = await post_signed(h.client, SMS_PATH,
                                     sms_payload(sender=CUSTOMER, body="HELP"))
        [text] = bodies(response.text)
        assert "Riverbend Public Utilities" in text
        [reply] = await h.messages(Message.direction == "outbound")
        assert reply.status == "queued"
        # It went in the TwiML, so the REST sender must never send it as well.
        await asyncio.sleep(0.5)
        assert h.twilio.sent == []


# -- a request that dies mid-way: Twilio delivers the message again ----------------------------

class SlowBot:
    """Answers only when told to."""

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def respond(self, session: Any, turn: Any) -> Any:
        from core.conversations.schemas import BotOutcome, Reply

        await self.release.wait()
        return BotOutcome(replies=(Reply(text=f"late answer to {turn.text}"),))


async def _stored_by_a_request_that_died(h: Any, payload: dict[str, str]) -> int:
    """Intake as the webhook does it, by a request that then never answers."""
    from channels.twilio_sms.parser import TwilioMessageParser
    from core.conversations import flows

    inbound = TwilioMessageParser(region="US").parse(payload)
    result = await flows.intake(h.runtime, inbound, expect_inline=lambda _id: None)
    return result.message_id


async def _handled(h: Any, message_id: int) -> bool:
    rows = await h.messages(Message.id == message_id)
    return bool(rows) and rows[0].handled_at is not None


async def test_a_retry_carries_the_reply_a_dead_request_was_handed(db_url: str) -> None:
    from messaging_helpers import wait_for

    async with messaging_app(db_url, inline_budget_s=0.3) as h:
        payload = sms_payload(sender=CUSTOMER, body="HELP")
        message_id = await _stored_by_a_request_that_died(h, payload)
        await wait_for(lambda: _handled(h, message_id))
        [inbound] = await h.messages(Message.id == message_id)
        assert inbound.inline_state == "answered"  # handed over to nobody

        retry = await post_signed(h.client, SMS_PATH, payload)
        [text] = bodies(retry.text)
        assert "Riverbend Public Utilities" in text
        # Once: a further retry carries nothing, and REST never sends it.
        assert bodies((await post_signed(h.client, SMS_PATH, payload)).text) == []
        await asyncio.sleep(0.3)
        assert h.twilio.sent == []
        assert await h.count(Message, Message.direction == "outbound") == 1


async def test_a_retry_carries_the_reply_a_request_took_and_died_before_answering_with(
        db_url: str) -> None:
    """The request that delivered the message was handed its reply and was killed before its
    answer left (the chaos api_kill drill): Twilio never got it, so the retry carries it."""
    from channels.twilio_sms.parser import TwilioMessageParser
    from core.conversations import direct, flows

    async with messaging_app(db_url, inline_budget_s=0.3) as h:
        answers = h.runtime.extras[INLINE_ANSWERS]
        payload = sms_payload(sender=CUSTOMER, body="HELP")
        inbound = TwilioMessageParser(region="US").parse(payload)
        result = await flows.intake(h.runtime, inbound, expect_inline=answers.expect,
                                    handle_here=direct.handle_here(h.runtime))
        [taken] = await answers.collect(result.message_id, budget_s=LONG_BUDGET_S)
        answers.forget(result.message_id)  # ...and the process dies here

        retry = await post_signed(h.client, SMS_PATH, payload)
        assert bodies(retry.text) == [taken.body]
        # That answer left: the next retry carries nothing, and REST never sends it.
        assert bodies((await post_signed(h.client, SMS_PATH, payload)).text) == []
        await asyncio.sleep(0.3)
        assert h.twilio.sent == []
        assert await h.count(Message, Message.direction == "outbound") == 1


async def test_an_answer_whose_note_cannot_be_written_still_answers(db_url: str) -> None:
    """The note that the replies left is written after the answer; if Redis refuses it,
    the answer has still gone, and the request ends cleanly."""
    async with messaging_app(db_url, inline_budget_s=LONG_BUDGET_S) as h:
        tried: list[list[str]] = []

        async def refuse(keys: list[str], *, ttl_s: float = 0.0) -> None:
            tried.append(list(keys))
            raise ConnectionError("redis is gone")

        h.runtime.dedupe.note_all = refuse  # type: ignore[method-assign]
        response = await post_signed(h.client, SMS_PATH,
                                     sms_payload(sender=CUSTOMER, body="HELP"))
        assert response.status_code == 200
        [text] = bodies(response.text)
        assert "Riverbend Public Utilities" in text
        await h.runtime.extras[INLINE_ANSWERS].write_notes()
        [[key]] = tried
        assert key.startswith("inline-answered:")


async def test_a_retry_before_handling_gives_up_and_the_reply_goes_by_rest(db_url: str) -> None:
    from messaging_helpers import wait_for

    bot = SlowBot()
    async with messaging_app(db_url, inline_budget_s=0.2, responder=bot) as h:
        payload = sms_payload(sender=CUSTOMER, body="where is my bill")
        message_id = await _stored_by_a_request_that_died(h, payload)
        retry = await post_signed(h.client, SMS_PATH, payload)
        assert bodies(retry.text) == []
        [inbound] = await h.messages(Message.id == message_id)
        assert inbound.inline_state == "gave_up"
        bot.release.set()

        async def sent() -> bool:
            return len(h.twilio.sent) == 1

        await wait_for(sent)
        assert h.twilio.sent[0]["body"] == "late answer to where is my bill"
        assert bodies((await post_signed(h.client, SMS_PATH, payload)).text) == []
        await asyncio.sleep(0.3)
        assert len(h.twilio.sent) == 1


async def test_a_message_past_twilios_wait_is_answered_by_rest(db_url: str) -> None:
    """Handled later than any webhook can still be waiting (re-queued after its request
    died, and Twilio never retried): the reply goes by REST, not to a listener that is gone."""
    from datetime import timedelta

    from messaging_helpers import wait_for
    from sqlalchemy import update

    from core.clock import utcnow
    from core.conversations.flows import INLINE_HORIZON_S

    bot = SlowBot()
    async with messaging_app(db_url, inline_budget_s=0.2, responder=bot) as h:
        message_id = await _stored_by_a_request_that_died(
            h, sms_payload(sender=CUSTOMER, body="balance"))
        async with h.runtime.sessions() as session, session.begin():
            await session.execute(update(Message).where(Message.id == message_id).values(
                created_at=utcnow() - timedelta(seconds=INLINE_HORIZON_S + 5)))
        bot.release.set()

        async def sent() -> bool:
            return len(h.twilio.sent) == 1

        await wait_for(sent)
        [inbound] = await h.messages(Message.id == message_id)
        assert inbound.inline_state == "gave_up"


async def test_the_notes_of_answers_given_together_are_written_in_one_call(db_url: str) -> None:
    """Each answer's note waits up to inline.NOTE_EVERY_S for the others: one round trip."""
    from core.conversations.inline import NOTE_EVERY_S

    async with messaging_app(db_url, inline_budget_s=LONG_BUDGET_S) as h:
        answers = h.runtime.extras[INLINE_ANSWERS]
        calls: list[list[str]] = []
        note_all = h.runtime.dedupe.note_all

        async def recording(keys: list[str], *, ttl_s: float) -> None:
            calls.append(list(keys))
            await note_all(keys, ttl_s=ttl_s)

        h.runtime.dedupe.note_all = recording  # type: ignore[method-assign]
        await answers.answered(101)
        await answers.answered(102)
        assert calls == []  # not yet: the answers' requests are not kept waiting for it
        await asyncio.sleep(NOTE_EVERY_S * 4)
        assert calls == [["inline-answered:101", "inline-answered:102"]]
        assert await h.runtime.dedupe.seen("inline-answered:102")
