"""Delivery status callbacks: signed, monotonic (late or repeated callbacks change nothing),
found by our id even before the REST answer told us Twilio's."""

from __future__ import annotations

import asyncio

from messaging_helpers import (
    SMS_PATH,
    STATUS_PATH,
    Harness,
    messaging_app,
    post_signed,
    sid,
    sms_payload,
    status_payload,
)

from core.consent.models import OptOut
from core.conversations.models import Message

CUSTOMER = "+15045550123"


async def _inline_reply(h: Harness) -> Message:
    await post_signed(h.client, SMS_PATH, sms_payload(sender=CUSTOMER, body="HELP"))
    [reply] = await h.messages(Message.direction == "outbound")
    return reply


async def _post_status(h: Harness, message_id: int, message_sid: str, status: str,
                       error_code: str | None = None) -> int:
    response = await post_signed(
        h.client, f"{STATUS_PATH}?m={message_id}",
        status_payload(message_sid=message_sid, status=status, to=CUSTOMER,
                       error_code=error_code))
    return response.status_code


async def _status(h: Harness, message_id: int) -> Message:
    [row] = await h.messages(Message.id == message_id)
    return row


async def test_status_moves_forward_and_records_twilios_id(db_url: str) -> None:
    async with messaging_app(db_url) as h:
        reply = await _inline_reply(h)
        message_sid = sid()
        for status in ("queued", "sent", "delivered"):
            assert await _post_status(h, reply.id, message_sid, status) == 200
            row = await _status(h, reply.id)
            assert row.status == status
        assert row.external_id == message_sid
        assert row.sent_at is not None


async def test_late_sent_never_overwrites_delivered(db_url: str) -> None:
    async with messaging_app(db_url) as h:
        reply = await _inline_reply(h)
        message_sid = sid()
        for status in ("delivered", "sent", "queued", "sending", "delivered"):
            assert await _post_status(h, reply.id, message_sid, status) == 200
        assert (await _status(h, reply.id)).status == "delivered"


async def test_duplicate_and_racing_callbacks_are_harmless(db_url: str) -> None:
    async with messaging_app(db_url) as h:
        reply = await _inline_reply(h)
        message_sid = sid()
        codes = await asyncio.gather(*(
            _post_status(h, reply.id, message_sid, status)
            for status in ("sent", "delivered", "sent", "delivered", "queued", "sent")))
        assert codes == [200] * 6
        assert (await _status(h, reply.id)).status == "delivered"


async def test_callback_by_sid_alone_finds_the_message(db_url: str) -> None:
    async with messaging_app(db_url) as h:
        reply = await _inline_reply(h)
        message_sid = sid()
        await _post_status(h, reply.id, message_sid, "sent")
        # A callback configured on the number rather than per message has no ?m=.
        response = await post_signed(h.client, STATUS_PATH, status_payload(
            message_sid=message_sid, status="undelivered", to=CUSTOMER, error_code="30003"))
        assert response.status_code == 200
        row = await _status(h, reply.id)
        assert (row.status, row.error_code) == ("undelivered", "30003")


async def test_unsigned_status_callback_is_refused(db_url: str) -> None:
    async with messaging_app(db_url) as h:
        reply = await _inline_reply(h)
        response = await h.client.post(f"{STATUS_PATH}?m={reply.id}", data=status_payload(
            message_sid=sid(), status="failed", to=CUSTOMER))
        assert response.status_code == 403
        assert (await _status(h, reply.id)).status == "queued"


async def test_twilio_unsubscribed_error_records_the_opt_out(db_url: str) -> None:
    async with messaging_app(db_url) as h:
        reply = await _inline_reply(h)
        await _post_status(h, reply.id, sid(), "failed", error_code="21610")
        assert (await _status(h, reply.id)).status == "failed"
        assert await h.count(OptOut, OptOut.address == CUSTOMER, OptOut.opted_out.is_(True)) == 1


async def test_unknown_message_is_acknowledged_and_ignored(db_url: str) -> None:
    async with messaging_app(db_url) as h:
        response = await post_signed(h.client, STATUS_PATH, status_payload(
            message_sid=sid(), status="delivered", to=CUSTOMER))
        assert response.status_code == 200
        assert await h.count(Message) == 0
