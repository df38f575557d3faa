"""Twilio webhook forms → InboundMessage: SMS, MMS, WhatsApp, the legacy field names."""

from __future__ import annotations

import pytest
from messaging_helpers import mms_payload, sms_payload, whatsapp_payload

from channels.twilio_sms.parser import TwilioMessageParser
from core.errors import Invalid

parser = TwilioMessageParser()


def test_sms() -> None:
    payload = sms_payload(sender="+15045550123", body="OUT")
    message = parser.parse(payload)
    assert (message.channel, message.external_id) == ("sms", payload["MessageSid"])
    assert (message.sender, message.recipient, message.text) == (
        "+15045550123", payload["To"], "OUT")
    assert message.media == () and message.sender_phone == "+15045550123"


def test_mms_media_in_order() -> None:
    payload = mms_payload(sender="+15045550123", body="", media=[("image/jpeg", "ME1"),
                                                                 ("video/mp4", "ME2")])
    message = parser.parse(payload)
    assert [(m.url, m.content_type) for m in message.media] == [
        (payload["MediaUrl0"], "image/jpeg"), (payload["MediaUrl1"], "video/mp4")]


def test_whatsapp_keeps_the_prefix_for_replies() -> None:
    message = parser.parse(whatsapp_payload(sender="+15045550123", body="hola"))
    assert message.channel == "whatsapp"
    assert message.sender == "whatsapp:+15045550123"
    assert message.sender_phone == "+15045550123"
    assert message.profile_name == "Ngozi"


def test_loose_number_formats_become_e164() -> None:
    message = parser.parse(sms_payload(sender="+1 (504) 555-0123", body="x"))
    assert message.sender == "+15045550123"


def test_legacy_sid_fields_and_opt_out_type() -> None:
    payload = sms_payload(sender="+15045550123", body="STOP", OptOutType="STOP")
    del payload["MessageSid"]
    message = parser.parse(payload)
    assert message.external_id == payload["SmsMessageSid"]
    assert message.provider_keyword == "STOP"


@pytest.mark.parametrize("field", ["From", "To"])
def test_missing_addresses_are_invalid(field: str) -> None:
    payload = sms_payload(sender="+15045550123", body="x")
    del payload[field]
    with pytest.raises(Invalid):
        parser.parse(payload)


def test_inbound_message_is_frozen() -> None:
    message = parser.parse(sms_payload(sender="+15045550123", body="x"))
    with pytest.raises(AttributeError):
        message.text = "changed"  # type: ignore[misc]
