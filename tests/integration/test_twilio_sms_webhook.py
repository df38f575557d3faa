"""The inbound Twilio webhook end to end, on SQLite and PostgreSQL: signed requests only, each
message stored once, the reply inline as TwiML when the bot is quick, by REST when it is not."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET

from messaging_helpers import (
    PUBLIC_BASE_URL,
    SMS_PATH,
    UTILITY_NUMBER,
    WHATSAPP_NUMBER,
    Harness,
    messaging_app,
    mms_payload,
    post_signed,
    sms_payload,
    twilio_signature,
    wait_for,
    whatsapp_payload,
)
from sqlalchemy.ext.asyncio import AsyncSession

from core.conversations.models import Conversation, Message
from core.conversations.schemas import BotOutcome, Reply, Turn

CUSTOMER = "+15045550123"


def twiml_messages(body: str) -> list[ET.Element]:
    root = ET.fromstring(body)
    assert root.tag == "Response"
    return root.findall("Message")


async def test_forged_or_missing_signature_is_403_and_stores_nothing(db_url: str) -> None:
    async with messaging_app(db_url) as h:
        payload = sms_payload(sender=CUSTOMER, body="OUT")
        missing = await h.client.post(SMS_PATH, data=payload)
        forged = await h.client.post(SMS_PATH, data=payload, headers={
            "X-Twilio-Signature": twilio_signature(PUBLIC_BASE_URL + SMS_PATH, payload,
                                                   token="not-the-auth-token")})
        # Signed for another URL (a replay against a different endpoint) fails too.
        elsewhere = await h.client.post(SMS_PATH, data=payload, headers={
            "X-Twilio-Signature": twilio_signature(PUBLIC_BASE_URL + "/other", payload)})
        # A field changed after signing.
        signature = twilio_signature(PUBLIC_BASE_URL + SMS_PATH, payload)
        tampered = await h.client.post(SMS_PATH, data={**payload, "Body": "STOP"},
                                       headers={"X-Twilio-Signature": signature})
        for response in (missing, forged, elsewhere, tampered):
            assert response.status_code == 403
        assert await h.count(Message) == 0
        assert await h.count(Conversation) == 0


async def test_signature_uses_public_base_url_not_the_host_the_app_sees(db_url: str) -> None:
    async with messaging_app(db_url) as h:
        payload = sms_payload(sender=CUSTOMER, body="hello")
        # Signed for the URL the app sees behind the proxy, not the public one: refused.
        wrong = await h.client.post(SMS_PATH, data=payload, headers={
            "X-Twilio-Signature": twilio_signature("http://test" + SMS_PATH, payload)})
        assert wrong.status_code == 403
        right = await post_signed(h.client, SMS_PATH, payload)
        assert right.status_code == 200


async def test_reply_comes_inline_as_twiml_and_is_tracked(db_url: str) -> None:
    async with messaging_app(db_url) as h:
        response = await post_signed(h.client, SMS_PATH, sms_payload(sender=CUSTOMER,
                                                                     body="HELP"))
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/xml")
        messages = twiml_messages(response.text)
        assert len(messages) == 1
        body = messages[0].find("Body")
        assert body is not None and "Riverbend Public Utilities" in (body.text or "")
        [reply] = await h.messages(Message.direction == "outbound")
        # The <Message action> carries our id, so Twilio's status posts find the row.
        assert messages[0].get("action") == f"{PUBLIC_BASE_URL}{SMS_PATH}/status?m={reply.id}"
        assert reply.status == "queued" and reply.recipient == CUSTOMER
        assert reply.sender == UTILITY_NUMBER
        # Inline means inline: nothing went to the REST API.
        assert h.twilio.sent == []


async def test_same_webhook_three_times_is_one_message_and_one_reply(db_url: str) -> None:
    async with messaging_app(db_url) as h:
        payload = sms_payload(sender=CUSTOMER, body="HELP")
        first = await post_signed(h.client, SMS_PATH, payload)
        again = await asyncio.gather(*(post_signed(h.client, SMS_PATH, payload)
                                       for _ in range(2)))
        assert [r.status_code for r in (first, *again)] == [200, 200, 200]
        assert len(twiml_messages(first.text)) == 1
        assert [len(twiml_messages(r.text)) for r in again] == [0, 0]
        assert await h.count(Message, Message.direction == "inbound") == 1
        assert await h.count(Message, Message.direction == "outbound") == 1
        assert h.twilio.sent == []


async def test_concurrent_duplicates_store_once(db_url: str) -> None:
    async with messaging_app(db_url) as h:
        payload = sms_payload(sender=CUSTOMER, body="HELP")
        responses = await asyncio.gather(*(post_signed(h.client, SMS_PATH, payload)
                                           for _ in range(3)))
        assert all(r.status_code == 200 for r in responses)
        assert sorted(len(twiml_messages(r.text)) for r in responses) == [0, 0, 1]
        assert await h.count(Message, Message.direction == "inbound") == 1
        assert await h.count(Message, Message.direction == "outbound") == 1


class SlowBot:
    """A bot that answers only when told to: longer than any inline budget."""

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def respond(self, session: AsyncSession, turn: Turn) -> BotOutcome:
        await self.release.wait()
        return BotOutcome(replies=(Reply(text=f"late answer to {turn.text}"),))


async def test_slow_bot_gets_empty_twiml_then_the_reply_by_rest(db_url: str) -> None:
    bot = SlowBot()
    async with messaging_app(db_url, inline_budget_s=0.2, responder=bot) as h:
        response = await post_signed(h.client, SMS_PATH, sms_payload(sender=CUSTOMER,
                                                                     body="where is my bill"))
        assert response.status_code == 200
        assert twiml_messages(response.text) == []
        bot.release.set()

        async def accepted() -> bool:
            rows = await h.messages(Message.direction == "outbound")
            return bool(rows) and rows[0].external_id is not None

        await wait_for(accepted)
        [rest] = h.twilio.sent
        assert rest["to"] == CUSTOMER and rest["from"] == UTILITY_NUMBER
        assert rest["body"] == "late answer to where is my bill"
        [reply] = await h.messages(Message.direction == "outbound")
        assert rest["form"]["StatusCallback"] == f"{PUBLIC_BASE_URL}{SMS_PATH}/status?m={reply.id}"
        assert rest["form"]["ValidityPeriod"] == "3600"
        assert reply.external_id == rest["sid"]
        assert reply.status == "queued"


async def test_mms_media_is_stored_with_the_message(db_url: str) -> None:
    async with messaging_app(db_url) as h:
        payload = mms_payload(sender=CUSTOMER, body="tree on the line",
                              media=[("image/jpeg", "ME" + "1" * 32),
                                     ("image/png", "ME" + "2" * 32)])
        response = await post_signed(h.client, SMS_PATH, payload)
        assert response.status_code == 200
        [inbound] = await h.messages(Message.direction == "inbound")
        assert inbound.external_id == payload["MessageSid"]
        assert [m["content_type"] for m in inbound.media] == ["image/jpeg", "image/png"]
        assert inbound.media[0]["url"] == payload["MediaUrl0"]


async def test_whatsapp_message_keeps_its_address_and_finds_the_customer(db_url: str) -> None:
    async with messaging_app(db_url) as h:
        customer_id = await h.add_customer(phone=CUSTOMER)
        response = await post_signed(h.client, SMS_PATH,
                                     whatsapp_payload(sender=CUSTOMER, body="HELP"))
        assert len(twiml_messages(response.text)) == 1
        [inbound] = await h.messages(Message.direction == "inbound")
        assert inbound.channel == "whatsapp"
        assert inbound.sender == f"whatsapp:{CUSTOMER}"
        [reply] = await h.messages(Message.direction == "outbound")
        assert reply.recipient == f"whatsapp:{CUSTOMER}" and reply.sender == WHATSAPP_NUMBER
        [conversation] = await _conversations(h)
        assert conversation.customer_id == customer_id


async def test_card_number_is_masked_before_storage(db_url: str) -> None:
    async with messaging_app(db_url) as h:
        await post_signed(h.client, SMS_PATH, sms_payload(
            sender=CUSTOMER, body="pay with 4111 1111 1111 1111 please"))
        [inbound] = await h.messages(Message.direction == "inbound")
        assert "4111 1111 1111 1111" not in inbound.body
        assert inbound.body.endswith("1111 please")


async def test_unknown_number_gets_a_conversation_of_its_own(db_url: str) -> None:
    async with messaging_app(db_url) as h:
        await post_signed(h.client, SMS_PATH, sms_payload(sender=CUSTOMER, body="hi"))
        await post_signed(h.client, SMS_PATH, sms_payload(sender="+15045550999", body="hi"))
        conversations = await _conversations(h)
        assert len(conversations) == 2
        assert all(c.customer_id is None and c.owner == "bot" for c in conversations)


async def _conversations(h: Harness) -> list[Conversation]:
    from sqlalchemy import select

    async with h.runtime.sessions() as session:
        return list(await session.scalars(select(Conversation).order_by(Conversation.id)))
