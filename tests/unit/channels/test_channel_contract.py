"""The channel contract: text is the one required send, richer content falls back to it;
TwiML is built by the twilio package and escapes what customers and agents type."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import pytest

from channels.base import SenderTable, send_content, text_fallback
from channels.twilio_sms.twiml import messaging_twiml
from core.conversations.models import Message
from core.conversations.schemas import Outgoing, SendReceipt

OUT = Outgoing(message_id=7, channel="sms", to="+15045550123", from_="+15045550100",
               text="Your bill", media_urls=("https://example.org/bill.pdf",),
               quick_replies=("Pay now", "Talk to a person"))


@dataclass
class TextOnly:
    sent: list[Outgoing] = field(default_factory=list)

    async def send_text(self, outgoing: Outgoing) -> SendReceipt:
        self.sent.append(outgoing)
        return SendReceipt(external_id="X1")


@dataclass
class WithMedia(TextOnly):
    media: list[Outgoing] = field(default_factory=list)

    async def send_media(self, outgoing: Outgoing) -> SendReceipt:
        self.media.append(outgoing)
        return SendReceipt(external_id="X2")


async def test_text_only_sender_gets_links_and_numbered_options() -> None:
    sender = TextOnly()
    await send_content(sender, OUT)
    [sent] = sender.sent
    assert sent.text == ("Your bill\nhttps://example.org/bill.pdf\n"
                         "1) Pay now  2) Talk to a person")
    assert sent.media_urls == () and sent.quick_replies == ()


async def test_media_sender_keeps_media_and_gets_options_as_text() -> None:
    sender = WithMedia()
    await send_content(sender, OUT)
    [sent] = sender.media
    assert sent.media_urls == OUT.media_urls
    assert sent.text.endswith("1) Pay now  2) Talk to a person")


def test_sender_table_by_channel() -> None:
    sender = TextOnly()
    table = SenderTable({"sms": sender})
    assert table.for_channel("sms") is sender and "sms" in table
    with pytest.raises(LookupError):
        table.for_channel("fax")


def test_fallback_without_extras_is_unchanged() -> None:
    plain = Outgoing(message_id=1, channel="sms", to="a", from_="b", text="hi")
    assert text_fallback(plain) == plain


def test_twiml_escapes_and_tracks_each_reply() -> None:
    reply = Message(id=42, channel="sms", recipient="+15045550123", sender="+15045550100",
                    body="Crews <en route> & ETR 5pm", media=[{"url": "https://e.org/map.png",
                                                               "content_type": ""}],
                    quick_replies=["STAT"])
    response = messaging_twiml([reply], status_url="https://sd.example.org/status")
    root = ET.fromstring(response.body)
    [message] = root.findall("Message")
    assert message.get("action") == "https://sd.example.org/status?m=42"
    assert message.findtext("Body") == "Crews <en route> & ETR 5pm\n1) STAT"
    assert message.findtext("Media") == "https://e.org/map.png"
    assert b"<en route>" not in response.body


def test_empty_twiml_says_nothing() -> None:
    root = ET.fromstring(messaging_twiml([]).body)
    assert root.tag == "Response" and list(root) == []
