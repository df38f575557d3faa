"""Correctly signed Twilio webhooks with hostile contents (the signature proves only that the
request came through Twilio, not that its fields are sane: carriers and WhatsApp pass along
whatever a phone sends). Arbitrary Unicode bodies with NULs, RTL marks and emoji, missing
fields, absurd NumMedia, bad MediaUrls, `whatsapp:` with no number: never a 5xx, a malformed
one is a 4xx that writes nothing, an accepted one is stored once, and the bot never crashes."""

from __future__ import annotations

import logging
import string
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.conversations.models import Conversation, Message
from tests.messaging_helpers import (
    SMS_PATH,
    STATUS_PATH,
    Harness,
    post_signed,
    sid,
    sms_payload,
    status_payload,
)

from .kit import abuse_app

FUZZ = settings(max_examples=40, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

# Unicode as phones send it: any code point a form can carry (surrogates cannot be encoded),
# with the awkward ones made likely.
AWKWARD = ["\x00", "\u202e", "\u200f", "\u200b", "\ufeff", "🔥", "👩🏽‍🔧", "\r\n", "%", "&", "=",
           "+", "ﷺ", "ｏｕｔ", "OUT", "STOP", "\ud7ff", "\U0010ffff"]
bodies = st.one_of(
    st.text(st.characters(exclude_categories=["Cs"]), max_size=400),
    st.lists(st.sampled_from(AWKWARD) | st.text(max_size=5), max_size=30).map("".join),
    st.sampled_from(["", " ", "\x00" * 20, "OUT\x00", "STOP\u202e", "1" * 1600]),
)
senders = st.one_of(
    st.sampled_from(["+15045550123", "whatsapp:", "whatsapp:+", "whatsapp:+15045550123",
                     "", "+", "+1", "1" * 40, "whatsapp:whatsapp:+15045550123",
                     "+1504555\x000123", "client:alice", "sip:bob@example.com", "🔥",
                     "+15045550123\u202e"]),
    st.text(string.digits + "+() -", max_size=20),
    st.text(max_size=20),
)
num_media = st.one_of(st.sampled_from(["0", "1", "10", "11", "-1", "99999999999999999999",
                                       "1e9", "", " 3 ", "１", "NaN", "9" * 5000]),
                      st.integers(-(2**70), 2**70).map(str), st.text(max_size=8))
media_urls = st.one_of(st.sampled_from(["", "javascript:alert(1)", "file:///etc/passwd",
                                        "http://169.254.169.254/latest/meta-data/",
                                        "https://api.twilio.com/" + "a" * 5000, "not a url"]),
                       st.text(max_size=50))
TWILIO_FIELDS = ["MessageSid", "SmsMessageSid", "SmsSid", "From", "To", "Body", "NumMedia",
                 "AccountSid", "ApiVersion"]


@st.composite
def sms_forms(draw: st.DrawFn) -> dict[str, str]:
    form = sms_payload(sender=draw(senders), body=draw(bodies))
    count = draw(num_media)
    form["NumMedia"] = count
    for index in range(draw(st.integers(0, 3))):
        form[f"MediaUrl{index}"] = draw(media_urls)
        form[f"MediaContentType{index}"] = draw(st.sampled_from(
            ["image/jpeg", "", "text/html", "application/x-msdownload", "\x00"]))
    for field in draw(st.lists(st.sampled_from(TWILIO_FIELDS), max_size=3, unique=True)):
        form.pop(field, None)
    if draw(st.booleans()):
        form[draw(st.text(min_size=1, max_size=10))] = draw(st.text(max_size=20))
    return form


@pytest.fixture
async def harness(db_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    async with abuse_app(db_url, tmp_path / "mail", seeded=False) as started:
        yield started


def _bot_failures(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno >= logging.ERROR and r.name.startswith(("core", "channels", "bot"))]


@FUZZ
@given(form=sms_forms())
async def test_signed_sms_with_hostile_fields_is_stored_once_or_refused_whole(
        harness: Harness, caplog: pytest.LogCaptureFixture, form: dict[str, str]) -> None:
    caplog.clear()
    inbound = Message.direction == "inbound"
    messages, conversations = await harness.count(Message, inbound), await harness.count(
        Conversation)
    response = await post_signed(harness.client, SMS_PATH, form)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.status_code in (400, 413, 415, 422), response.text
        assert await harness.count(Message, inbound) == messages
        assert await harness.count(Conversation) == conversations
    else:
        assert response.status_code == 200
        assert "<Response" in response.text
        assert await harness.count(Message, inbound) == messages + 1
        (stored,) = await harness.messages(inbound, Message.external_id == (
            form.get("MessageSid") or form.get("SmsMessageSid") or form.get("SmsSid")))
        assert len(stored.media) <= 10
    assert _bot_failures(caplog) == []


statuses = st.one_of(st.sampled_from(["queued", "sent", "delivered", "undelivered", "failed",
                                      "read", "", "DELIVERED", "receiving", "\x00", "🔥"]),
                     st.text(max_size=12))


@st.composite
def status_forms(draw: st.DrawFn) -> tuple[dict[str, str], str]:
    form = status_payload(message_sid=draw(st.sampled_from([sid(), "", "SM" + "0" * 200])),
                          status=draw(statuses), to=draw(senders),
                          error_code=draw(st.none() | st.sampled_from(
                              ["21610", "30007", "", "x" * 100, "\x00"])))
    for field in draw(st.lists(st.sampled_from(list(form)), max_size=3, unique=True)):
        form.pop(field)
    query = draw(st.sampled_from(["", "?m=1", "?m=-1", "?m=99999999999999999999999",
                                  "?m=abc", "?m=", "?m=1&m=2"]))
    return form, query


@FUZZ
@given(case=status_forms())
async def test_signed_status_callback_with_hostile_fields_never_writes_a_message(
        harness: Harness, case: tuple[dict[str, str], str]) -> None:
    form, query = case
    before = await harness.count(Message)
    response = await post_signed(harness.client, STATUS_PATH + query, form)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.status_code in (400, 422), response.text
    assert await harness.count(Message) == before


@pytest.mark.parametrize("body", ["OUT\x00\x00 at home", "\u202eTUO\u202c 🔥", "\x00"])
async def test_nul_and_direction_marks_in_a_body_on_both_databases(
        db_url: str, tmp_path: Path, body: str) -> None:
    """PostgreSQL refuses NUL in text where SQLite keeps it: either way no 5xx, nothing half
    written, and an accepted message is stored with the rest of its text intact."""
    async with abuse_app(db_url, tmp_path / "mail", seeded=False) as harness:
        form = sms_payload(sender="+15045550123", body=body)
        response = await post_signed(harness.client, SMS_PATH, form)
        assert response.status_code in (200, 422), response.text
        stored = await harness.messages(Message.external_id == form["MessageSid"])
        if response.status_code == 422:
            assert stored == []
        else:
            assert [m.body.replace("\x00", "") for m in stored] == [body.replace("\x00", "")]
