"""Correctly signed Twilio voice webhooks with hostile contents, on every step of the phone line:
what a speech recognizer can return (any Unicode, NULs, a card number), keypad strings,
confidences that are not numbers, withheld or garbage caller ids, query strings out of range.
Never a 5xx; a 200 is valid TwiML; a 4xx writes nothing."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core.conversations.models import Message
from tests.messaging_helpers import ACCOUNT_SID, Harness, post_signed, sid

from .kit import abuse_app

FUZZ = settings(max_examples=40, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
VOICE = "/channels/twilio/voice"
PATHS = [VOICE, f"{VOICE}/turn?n=1", f"{VOICE}/turn?n=2&q=3&l=es&s=1", f"{VOICE}/turn?n=0",
         f"{VOICE}/turn?n=99999999999999999999", f"{VOICE}/turn?n=1&l=fr",
         f"{VOICE}/queue/wait?c=1", f"{VOICE}/queue/wait?c={2**63}",
         f"{VOICE}/queue/choice?c=1", f"{VOICE}/queue/exit?c=1", f"{VOICE}/status",
         f"{VOICE}/pay?m=1&link=1&n=1"]
speech = st.one_of(st.text(st.characters(exclude_categories=["Cs"]), max_size=200),
                   st.sampled_from(["", "\x00", "4539 1488 0343 6467", "{utility}", "%s",
                                    "operator operator operator", "\u202eOUT", "sí 🔥"]))
numbers = st.sampled_from(["", "0", "0.93", "1", "-1", "nan", "inf", "1e999", "x", "0,5"])
callers = st.sampled_from(["+14055550101", "", "anonymous", "Restricted", "+266696687",
                           "sip:alice@example.com", "client:bob", "whatsapp:+1", "+1" * 30,
                           "\x00", "+15045550123"])


@st.composite
def voice_requests(draw: st.DrawFn) -> tuple[str, dict[str, str]]:
    caller = draw(callers)
    form = {"CallSid": draw(st.sampled_from([sid("CA"), "", "CA", "CA" + "f" * 60, "SMx"])),
            "AccountSid": ACCOUNT_SID, "From": caller, "Caller": caller,
            "To": "+15045550100", "Called": "+15045550100", "Direction": "inbound",
            "CallStatus": draw(st.sampled_from(["ringing", "in-progress", "completed", "",
                                                "busy", "\x00"])),
            "ApiVersion": "2010-04-01"}
    if draw(st.booleans()):
        form["SpeechResult"] = draw(speech)
        form["Confidence"] = draw(numbers)
    if draw(st.booleans()):
        form["Digits"] = draw(st.sampled_from(["", "0", "1", "#", "*", "9" * 40, "abc", "\x00"]))
    for key in draw(st.lists(st.sampled_from(["QueueTime", "QueueResult", "PaymentCardNumber",
                                              "Result", "PaymentError", "CallDuration"]),
                             max_size=3, unique=True)):
        form[key] = draw(st.sampled_from(["", "1", "success", "4539148803436467", "-5", "x"]))
    return draw(st.sampled_from(PATHS)), form


@pytest.fixture
async def harness(db_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    async with abuse_app(db_url, tmp_path / "mail", seeded=False) as started:
        yield started


@FUZZ
@given(request=voice_requests())
# Found by this test: a NUL CallStatus was stored as the call's status, a PostgreSQL 500.
@example(request=(VOICE, {"CallSid": "CA" + "0" * 32, "AccountSid": ACCOUNT_SID,
                          "From": "+14055550101", "To": "+15045550100\x00",
                          "CallStatus": "\x00", "Direction": "inbound"}))
async def test_signed_voice_webhooks_with_hostile_fields_never_fail(
        harness: Harness, request: tuple[str, dict[str, str]]) -> None:
    path, form = request
    inbound = Message.direction == "inbound"
    before = await harness.count(Message, inbound)
    response = await post_signed(harness.client, path, form)
    assert response.status_code < 500, (path, response.text)
    if response.status_code >= 400:
        assert response.status_code in (400, 404, 409, 422), (path, response.text)
        assert await harness.count(Message, inbound) == before
    elif response.status_code == 200 and response.content:
        assert ET.fromstring(response.text).tag == "Response", response.text
