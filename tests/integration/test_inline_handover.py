"""The inline hand-over: the handler checks consent and hands text replies to the waiting
webhook with the wake-up, so the webhook answers at once and without a database round trip;
if the wake-up is lost, the webhook still sends exactly what was handed to it, once."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from typing import Any

from messaging_helpers import SMS_PATH, messaging_app, post_signed, sms_payload

from core.conversations.flows import INLINE_TOPIC
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
        response = await post_signed(h.client, SMS_PATH,
                                     sms_payload(sender=CUSTOMER, body="HELP"))
        [text] = bodies(response.text)
        assert "Riverbend Public Utilities" in text
        [reply] = await h.messages(Message.direction == "outbound")
        assert reply.status == "queued"
        # It went in the TwiML, so the REST sender must never send it as well.
        await asyncio.sleep(0.5)
        assert h.twilio.sent == []
