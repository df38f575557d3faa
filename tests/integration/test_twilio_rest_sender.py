"""The REST sender with the official twilio client against a fake Messages API: the request
Twilio would get, pacing per sender number, backoff on 429/20429, opt-out and permanent
errors, and TWILIO_API_BASE pointing the production wiring at a local server over HTTP."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
import uvicorn
from messaging_helpers import ACCOUNT_SID, AUTH_TOKEN
from twilio.rest import Client

from core.config import Settings
from core.conversations.schemas import Outgoing, SendFailed
from integrations.twilio import build_senders, twilio_client
from integrations.twilio.fake_api import FakeTwilio
from integrations.twilio.http import HttpxTwilioClient
from integrations.twilio.sender import TwilioOptions, TwilioSender

LONG_CODE = "+15045550100"
CUSTOMER = "+15045550123"


@dataclass
class RecordingLimiter:
    """A RateLimiter that never waits and remembers what it was asked."""

    calls: list[tuple[str, float, int]] = field(default_factory=list)

    async def try_acquire(self, key: str, *, rate: float, burst: int, tokens: int = 1) -> float:
        return 0.0

    async def acquire(self, key: str, *, rate: float, burst: int, tokens: int = 1) -> None:
        self.calls.append((key, rate, burst))

    async def close(self) -> None:
        return None


@dataclass
class Harness:
    fake: FakeTwilio
    sender: TwilioSender
    limiter: RecordingLimiter
    sleeps: list[float]


@pytest.fixture
async def twilio() -> AsyncIterator[Harness]:
    fake = FakeTwilio()
    http = HttpxTwilioClient(transport=httpx.ASGITransport(app=fake.app()))
    client = Client(username=ACCOUNT_SID, password=AUTH_TOKEN, account_sid=ACCOUNT_SID,
                    http_client=http)
    limiter = RecordingLimiter()
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    sender = TwilioSender(client, limiter=limiter, sleep=sleep, options=TwilioOptions(
        status_callback="https://sd.example.org/channels/twilio/sms/status",
        validity_period_s=900, max_attempts=4))
    yield Harness(fake, sender, limiter, sleeps)
    await http.aclose()


def outgoing(text: str = "Crews are on the way.", **kw: object) -> Outgoing:
    values: dict[str, object] = {"message_id": 31, "channel": "sms", "to": CUSTOMER,
                                 "from_": LONG_CODE, "text": text}
    values.update(kw)
    return Outgoing(**values)  # type: ignore[arg-type]


async def test_the_request_twilio_gets(twilio: Harness) -> None:
    receipt = await twilio.sender.send_text(outgoing())
    [sent] = twilio.fake.sent
    assert receipt.external_id == sent["sid"] and receipt.status == "queued"
    assert sent["account_sid"] == ACCOUNT_SID
    form = sent["form"]
    assert (form["To"], form["From"], form["Body"]) == (CUSTOMER, LONG_CODE,
                                                         "Crews are on the way.")
    assert form["ValidityPeriod"] == "900"
    assert form["SmartEncoded"] == "true"
    assert form["StatusCallback"] == "https://sd.example.org/channels/twilio/sms/status?m=31"


async def test_paced_per_sender_number_through_the_limiter(twilio: Harness) -> None:
    await twilio.sender.send_text(outgoing())
    await twilio.sender.send_text(outgoing(from_="+18885550100"))
    await twilio.sender.send_text(outgoing(from_="whatsapp:+14155238886",
                                           to=f"whatsapp:{CUSTOMER}", channel="whatsapp"))
    assert twilio.limiter.calls == [("twilio:mps:+15045550100", 1.0, 1),
                                    ("twilio:mps:+18885550100", 3.0, 3),
                                    ("twilio:mps:whatsapp:+14155238886", 80.0, 80)]


async def test_backs_off_on_429_then_sends_once(twilio: Harness) -> None:
    twilio.fake.throttle_next = 2
    receipt = await twilio.sender.send_text(outgoing())
    assert receipt.external_id is not None
    assert twilio.fake.requests == 3 and len(twilio.fake.sent) == 1
    assert len(twilio.sleeps) == 2
    # Exponential with jitter: the second wait's range lies above the first's.
    assert 0.25 <= twilio.sleeps[0] <= 0.5 and 0.5 <= twilio.sleeps[1] <= 1.0
    # Every attempt waits for a token again: retries do not jump the pacing.
    assert len(twilio.limiter.calls) == 3


async def test_throttled_past_the_attempts_is_a_retryable_failure(twilio: Harness) -> None:
    twilio.fake.throttle_next = 10
    with pytest.raises(SendFailed) as failed:
        await twilio.sender.send_text(outgoing())
    assert failed.value.code == "20429" and not failed.value.permanent
    assert twilio.fake.sent == []


async def test_unsubscribed_recipient_is_an_opt_out(twilio: Harness) -> None:
    twilio.fake.unsubscribed.add(CUSTOMER)
    with pytest.raises(SendFailed) as failed:
        await twilio.sender.send_text(outgoing())
    assert failed.value.opted_out and failed.value.permanent and failed.value.code == "21610"


async def test_media_goes_as_media_urls(twilio: Harness) -> None:
    await twilio.sender.send_media(outgoing(media_urls=("https://e.org/a.png",
                                                        "https://e.org/b.png")))
    assert twilio.fake.sent[0]["form"]["MediaUrl"] == ["https://e.org/a.png",
                                                       "https://e.org/b.png"]


async def test_over_the_limit_is_refused_before_twilio(twilio: Harness) -> None:
    with pytest.raises(SendFailed) as failed:
        await twilio.sender.send_text(outgoing("x" * 1601))
    assert failed.value.permanent and twilio.fake.requests == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_twilio_api_base_points_the_wired_client_at_a_local_server() -> None:
    fake = FakeTwilio()
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(fake.app(), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:
                await asyncio.sleep(0.01)
        settings = Settings(env="test", twilio_account_sid=ACCOUNT_SID,
                            twilio_auth_token=AUTH_TOKEN,
                            twilio_api_base=f"http://127.0.0.1:{port}")
        senders = build_senders(settings, limiter=RecordingLimiter())
        assert isinstance(senders["sms"], TwilioSender)
        receipt = await senders["sms"].send_text(outgoing())
        assert receipt.external_id == fake.sent[0]["sid"]
        client = twilio_client(settings)
        assert isinstance(client.http_client, HttpxTwilioClient)
    finally:
        server.should_exit = True
        await serving
