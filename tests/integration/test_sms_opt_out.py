"""Carrier compliance end to end: after STOP nothing reaches the number — not a bot reply, not
an agent's reply, not a notice — except the one confirmation; START restores; HELP answers
with the utility's name and how to reach a person. Checked where messages leave: the TwiML
answers and the (fake) Twilio REST API."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from messaging_helpers import (
    SMS_PATH,
    Harness,
    messaging_app,
    post_signed,
    sms_payload,
    wait_for,
)

from core.consent.models import OptOut
from core.conversations import flows
from core.conversations.models import Conversation, Message
from core.conversations.schemas import Reply

CUSTOMER = "+15045550123"
OTHER = "+15045550124"


def bodies(twiml: str) -> list[str]:
    return [(m.findtext("Body") or "") for m in ET.fromstring(twiml).findall("Message")]


async def text(h: Harness, body: str, sender: str = CUSTOMER, **extra: str) -> list[str]:
    response = await post_signed(h.client, SMS_PATH, sms_payload(sender=sender, body=body,
                                                                 **extra))
    assert response.status_code == 200
    return bodies(response.text)


async def conversation_id(h: Harness) -> int:
    rows = await h.messages(Message.direction == "inbound", Message.sender == CUSTOMER)
    return rows[-1].conversation_id


async def settled(h: Harness, message_ids: list[int]) -> list[str]:
    """Wait until the dispatcher decided about these messages; return their statuses."""
    async def decided() -> bool:
        rows = await h.messages(Message.id.in_(message_ids))
        return all(r.status not in ("pending", "claimed") for r in rows)

    await wait_for(decided)
    return [r.status for r in await h.messages(Message.id.in_(message_ids))]


async def test_stop_then_every_later_send_reaches_nobody_until_start(db_url: str) -> None:
    async with messaging_app(db_url) as h:
        assert len(await text(h, "hello")) == 1
        confirmation = await text(h, "Stop")
        assert len(confirmation) == 1 and "unsubscribed" in confirmation[0]
        assert await h.count(OptOut, OptOut.address == CUSTOMER, OptOut.opted_out.is_(True)) == 1

        # Texting again: the bot's reply is stored but never leaves.
        assert await text(h, "AGENT") == []
        assert await text(h, "HELP") == []
        # An agent's reply and a proactive notice go through the REST dispatcher: blocked too.
        ids = await flows.send_reply(h.runtime, conversation_id=await conversation_id(h),
                                     reply=Reply(text="This is Amy from billing."),
                                     author="agent")
        ids += await flows.send_reply(h.runtime, conversation_id=await conversation_id(h),
                                      reply=Reply(text="Outage update: crews on site."),
                                      author="system", purpose="notice")
        assert await settled(h, ids) == ["suppressed", "suppressed"]
        assert [s for s in h.twilio.sent if s["to"] == CUSTOMER] == []

        # Another number is unaffected.
        assert len(await text(h, "HELP", sender=OTHER)) == 1

        # START restores, with a confirmation, and sends flow again.
        restored = await text(h, "start")
        assert len(restored) == 1 and "subscribed again" in restored[0]
        ids = await flows.send_reply(h.runtime, conversation_id=await conversation_id(h),
                                     reply=Reply(text="Back online."), author="agent")
        assert await settled(h, ids) == ["queued"]
        assert [s["body"] for s in h.twilio.sent if s["to"] == CUSTOMER] == ["Back online."]


async def test_reply_written_before_stop_is_still_stopped_at_send_time(db_url: str) -> None:
    async with messaging_app(db_url) as h:
        await text(h, "hi")
        conv = await conversation_id(h)
        # Stop the dispatcher from sending until after the STOP arrives: record the reply
        # directly (pending), then deliver it once the customer has opted out.
        from channels.base import deliver
        from core.conversations import service
        from core.db import unit_of_work

        async with unit_of_work(h.runtime.sessions) as session:
            [row] = await service.record_reply(session, conversation_id=conv,
                                               reply=Reply(text="Your bill is ready."),
                                               author="agent")
        await text(h, "UNSUBSCRIBE")
        status = await deliver(h.runtime, row.id, h.runtime.extras["sender_table"])
        assert status == "suppressed"
        assert [s for s in h.twilio.sent if s["to"] == CUSTOMER] == []


async def test_yes_opts_in_only_someone_opted_out(db_url: str) -> None:
    async with messaging_app(db_url) as h:
        # Not opted out: YES is just an answer for the bot; no consent record is written.
        await text(h, "YES")
        assert await h.count(OptOut) == 0
        await text(h, "quit")
        restored = await text(h, "yes")
        assert len(restored) == 1 and "subscribed again" in restored[0]
        assert await h.count(OptOut, OptOut.opted_out.is_(False)) == 1


async def test_help_names_the_utility_and_a_way_to_a_person(db_url: str) -> None:
    async with messaging_app(db_url) as h:
        [answer] = await text(h, "help")
        assert "Riverbend Public Utilities" in answer
        assert "AGENT" in answer and h.runtime.settings.utility_phone in answer
        assert "STOP" in answer


async def test_stop_is_honored_even_while_an_agent_owns_the_conversation(db_url: str) -> None:
    async with messaging_app(db_url) as h:
        await text(h, "AGENT")  # the keyword responder hands over to the queue
        async with h.runtime.sessions() as session:
            conversation = await session.get(Conversation, await conversation_id(h))
            assert conversation is not None and conversation.owner == "queued"
        confirmation = await text(h, "STOP")
        assert len(confirmation) == 1
        assert await h.count(OptOut, OptOut.opted_out.is_(True)) == 1


async def test_provider_handled_opt_out_is_recorded_but_not_answered_twice(db_url: str) -> None:
    async with messaging_app(db_url) as h:
        # Twilio Advanced Opt-Out already sent its own confirmation and tells us so.
        assert await text(h, "STOP", OptOutType="STOP") == []
        assert await h.count(OptOut, OptOut.opted_out.is_(True)) == 1


async def test_whatsapp_opt_out_is_its_own_address(db_url: str) -> None:
    from messaging_helpers import whatsapp_payload

    async with messaging_app(db_url) as h:
        response = await post_signed(h.client, SMS_PATH,
                                     whatsapp_payload(sender=CUSTOMER, body="STOP"))
        assert len(bodies(response.text)) == 1
        assert await h.count(OptOut, OptOut.address == f"whatsapp:{CUSTOMER}") == 1
        # SMS to the same phone is a different consent (as carriers and Twilio treat it).
        assert len(await text(h, "HELP")) == 1


async def test_a_retried_start_does_not_undo_a_later_stop(db_url: str) -> None:
    async with messaging_app(db_url) as h:
        start = sms_payload(sender=CUSTOMER, body="START")
        await post_signed(h.client, SMS_PATH, start)
        await text(h, "STOP")
        retry = await post_signed(h.client, SMS_PATH, start)  # Twilio retries the old START
        assert bodies(retry.text) == []
        assert await h.count(OptOut, OptOut.address == CUSTOMER, OptOut.opted_out.is_(True)) == 1


async def test_consent_changes_are_announced(db_url: str) -> None:
    async with messaging_app(db_url) as h:
        async with h.runtime.bus.subscribe("consent.changed") as events:
            await text(h, "STOP")
            await text(h, "START")
            seen = [await anext(events), await anext(events)]
        assert [(e["address"], e["opted_out"], e["keyword"]) for e in seen] == [
            (CUSTOMER, True, "STOP"), (CUSTOMER, False, "START")]
