"""Bodies far past what a door takes are refused early, and bodies of the wrong type are 4xx.

"Early" is measured, not timed: the body is streamed from a generator that counts the chunks
the app pulled, so a door that buffers all 10 MB before refusing fails the test."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.conversations.models import Message
from core.customers.models import Customer
from tests.messaging_helpers import (
    PUBLIC_BASE_URL,
    SMS_PATH,
    Harness,
    post_signed,
    sms_payload,
    twilio_signature,
)

from .kit import Callers, abuse_app, basic_auth, make_callers, oms_headers

MB = 1024 * 1024


@dataclass
class Stream:
    """`chunks` megabytes of `fill`, counting how many the app asked for."""

    chunks: int
    fill: bytes = b"a"
    pulled: int = 0

    async def body(self) -> AsyncIterator[bytes]:
        block = self.fill * (MB // len(self.fill))
        for _ in range(self.chunks):
            self.pulled += 1
            yield block

    @property
    def size(self) -> int:
        return self.chunks * (MB // len(self.fill)) * len(self.fill)


@pytest.fixture
async def app(sqlite_url: str, tmp_path: Path) -> AsyncIterator[tuple[Harness, Callers]]:
    async with abuse_app(sqlite_url, tmp_path / "mail", seeded=False) as harness:
        yield harness, await make_callers(harness)


SMS_FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_a_10_mb_sms_form_is_413_after_at_most_one_chunk(app, declared: bool) -> None:
    harness, _ = app
    stream = Stream(10, fill=b"Body=" + b"A" * 1019)
    headers = {"Content-Type": SMS_FORM, "X-Twilio-Signature": "irrelevant"}
    if declared:
        headers["Content-Length"] = str(stream.size)
    response = await harness.client.post(SMS_PATH, content=stream.body(), headers=headers)
    assert response.status_code == 413, response.text
    assert stream.pulled <= (0 if declared else 1)
    assert await harness.count(Message) == 0


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_a_10_mb_json_body_is_refused_before_it_is_read_whole(app, declared: bool) -> None:
    harness, callers = app
    stream = Stream(10, fill=b'{"first_name": "' + b"A" * 1000 + b'", ')
    headers = {**callers.admin, "Content-Type": "application/json"}
    if declared:
        headers["Content-Length"] = str(stream.size)
    response = await harness.client.post("/api/v1/customers", content=stream.body(),
                                         headers=headers)
    assert response.status_code in ((413,) if declared else (400, 413)), response.text
    assert stream.pulled <= (0 if declared else 2)
    assert await harness.count(Customer) == 0


async def test_an_email_past_the_inbound_cap_is_413_without_reading_it_all(app) -> None:
    harness, _ = app
    stream = Stream(40)  # the cap is 25 MB plus form overhead
    response = await harness.client.post(
        "/channels/email/inbound", content=stream.body(),
        headers={**basic_auth(), "Content-Type": "multipart/form-data; boundary=x"})
    assert response.status_code == 413, response.text
    assert stream.pulled <= 27
    assert await harness.count(Message) == 0


async def test_an_oms_delivery_past_its_cap_is_413(app) -> None:
    harness, _ = app
    body = json.dumps([{"event_id": f"e{i}", "type": "restore",
                        "device": {"kind": "transformer", "code": "X" * 20}}
                       for i in range(20_000)]).encode()
    assert len(body) > 1_000_000
    response = await harness.client.post("/api/v1/oms/events", content=body,
                                         headers=oms_headers(body))
    assert response.status_code == 413, response.text


async def test_a_twilio_webhook_that_is_not_a_form_is_415(app) -> None:
    harness, _ = app
    payload = sms_payload(sender="+15045550123", body="OUT")
    signature = twilio_signature(PUBLIC_BASE_URL + SMS_PATH, {})
    for content_type, body in (("application/json", json.dumps(payload)),
                               ("multipart/form-data; boundary=x", "--x--\r\n"),
                               ("text/plain", "Body=OUT")):
        response = await harness.client.post(SMS_PATH, content=body, headers={
            "Content-Type": content_type, "X-Twilio-Signature": signature})
        assert response.status_code == 415, (content_type, response.text)
    assert await harness.count(Message) == 0


async def test_json_endpoints_refuse_forms_and_text(app) -> None:
    harness, callers = app
    for content_type, body in (("application/x-www-form-urlencoded", "first_name=Ann"),
                               ("text/plain", '{"first_name": "Ann"}'),
                               ("application/json", '{"first_name": "Ann"'),
                               ("application/json", "[]")):
        response = await harness.client.post("/api/v1/customers", content=body, headers={
            **callers.admin, "Content-Type": content_type})
        assert response.status_code in (415, 422), (content_type, response.text)
    assert await harness.count(Customer) == 0


async def test_inbound_parse_refuses_anything_but_multipart(app) -> None:
    harness, _ = app
    for content_type, body in (("application/json", '{"from": "a@example.com"}'),
                               ("application/x-www-form-urlencoded", "from=a%40example.com"),
                               ("text/plain", "hello")):
        response = await harness.client.post("/channels/email/inbound", content=body, headers={
            **basic_auth(), "Content-Type": content_type})
        assert response.status_code in (415, 422), (content_type, response.text)
    assert await harness.count(Message) == 0


async def test_a_sane_signed_sms_still_goes_through(app) -> None:
    """The caps sit well above what Twilio sends: a full 1,600-character text is taken."""
    harness, _ = app
    response = await post_signed(harness.client, SMS_PATH,
                                 sms_payload(sender="+15045550123", body="é" * 1600))
    assert response.status_code == 200, response.text
