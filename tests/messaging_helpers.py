"""Helpers for message-pipeline tests: Twilio payloads shaped like the real ones, signed the way
Twilio signs them, an app wired with a fake Twilio API, and a collecting sender."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from core.config import Settings
from core.conversations.models import Message
from core.conversations.schemas import Outgoing, SendReceipt
from core.customers.models import Contact, Customer
from core.db import unit_of_work
from core.runtime import Runtime
from integrations.notices.senders import TwilioNoticeSender
from integrations.twilio import HttpxTwilioClient, TwilioOptions, TwilioSender
from integrations.twilio.fake_api import FakeTwilio
from stormdesk.app import create_app
from stormdesk.wiring import build_runtime

ACCOUNT_SID = "AC" + "5f" * 16
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
PUBLIC_BASE_URL = "https://stormdesk.example.org"
UTILITY_NUMBER = "+15045550100"
WHATSAPP_NUMBER = "whatsapp:+14155238886"
SMS_PATH = "/channels/twilio/sms"
STATUS_PATH = "/channels/twilio/sms/status"


def sid(prefix: str = "SM") -> str:
    return prefix + secrets.token_hex(16)


def sms_payload(*, sender: str, body: str, to: str = UTILITY_NUMBER,
                message_sid: str | None = None, **extra: str) -> dict[str, str]:
    """An incoming-SMS webhook form exactly as Twilio posts it (field set of a real one)."""
    message_sid = message_sid or sid()
    return {
        "ToCountry": "US", "ToState": "LA", "SmsMessageSid": message_sid, "NumMedia": "0",
        "ToCity": "NEW ORLEANS", "FromZip": "70112", "SmsSid": message_sid,
        "FromState": "LA", "SmsStatus": "received", "FromCity": "NEW ORLEANS", "Body": body,
        "FromCountry": "US", "To": to, "ToZip": "70112", "NumSegments": "1",
        "MessageSid": message_sid, "AccountSid": ACCOUNT_SID, "From": sender,
        "ApiVersion": "2010-04-01", **extra,
    }


def mms_payload(*, sender: str, body: str, media: list[tuple[str, str]],
                to: str = UTILITY_NUMBER) -> dict[str, str]:
    message_sid = sid("MM")
    payload = sms_payload(sender=sender, body=body, to=to, message_sid=message_sid)
    payload["NumMedia"] = str(len(media))
    for index, (content_type, media_sid) in enumerate(media):
        payload[f"MediaContentType{index}"] = content_type
        payload[f"MediaUrl{index}"] = (f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}"
                                       f"/Messages/{message_sid}/Media/{media_sid}")
    return payload


def whatsapp_payload(*, sender: str, body: str, profile_name: str = "Ngozi") -> dict[str, str]:
    """WhatsApp through Twilio: `whatsapp:` addresses, ProfileName, WaId, no geo fields."""
    message_sid = sid()
    return {
        "SmsMessageSid": message_sid, "NumMedia": "0", "ProfileName": profile_name,
        "MessageType": "text", "SmsSid": message_sid, "WaId": sender.lstrip("+"),
        "SmsStatus": "received", "Body": body, "To": WHATSAPP_NUMBER, "NumSegments": "1",
        "ReferralNumMedia": "0", "MessageSid": message_sid, "AccountSid": ACCOUNT_SID,
        "From": f"whatsapp:{sender}", "ApiVersion": "2010-04-01",
    }


def status_payload(*, message_sid: str, status: str, to: str, error_code: str | None = None,
                   sender: str = UTILITY_NUMBER) -> dict[str, str]:
    payload = {"SmsSid": message_sid, "SmsStatus": status, "MessageStatus": status, "To": to,
               "MessageSid": message_sid, "AccountSid": ACCOUNT_SID, "From": sender,
               "ApiVersion": "2010-04-01"}
    if error_code:
        payload["ErrorCode"] = error_code
    return payload


async def wait_for(predicate: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Poll a condition the pipeline will make true (bounded; never a fixed sleep)."""
    async with asyncio.timeout(timeout):
        while not await predicate():
            await asyncio.sleep(0.02)


def twilio_signature(url: str, params: Mapping[str, str], token: str = AUTH_TOKEN) -> str:
    """What Twilio puts in X-Twilio-Signature: HMAC over the URL and the sorted fields."""
    return RequestValidator(token).compute_signature(url, dict(params))


async def post_signed(client: httpx.AsyncClient, path: str, params: Mapping[str, str], *,
                      token: str = AUTH_TOKEN) -> httpx.Response:
    signature = twilio_signature(PUBLIC_BASE_URL + path, params, token)
    return await client.post(path, data=dict(params), headers={"X-Twilio-Signature": signature})


def messaging_settings(db_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url, "env": "test", "log_json": False,
        "twilio_account_sid": ACCOUNT_SID, "twilio_auth_token": AUTH_TOKEN,
        "public_base_url": PUBLIC_BASE_URL, "utility_phone": "+15045550199",
        # Any Twilio client a test forgets to point at the fake fails fast on this machine
        # (nothing listens on port 9) instead of reaching out to api.twilio.com.
        "twilio_api_base": "http://127.0.0.1:9",
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class CollectingSender:
    """Records what would have been sent (Rasa's CollectingOutputChannel, for our contract)."""

    sent: list[Outgoing] = field(default_factory=list)

    async def send_text(self, outgoing: Outgoing) -> SendReceipt:
        self.sent.append(outgoing)
        return SendReceipt(external_id=sid(), status="queued")


@dataclass
class Harness:
    app: FastAPI
    client: httpx.AsyncClient
    runtime: Runtime
    twilio: FakeTwilio

    async def count(self, model: type, *where: Any) -> int:
        async with self.runtime.sessions() as session:
            stmt = select(func.count()).select_from(model)
            for condition in where:
                stmt = stmt.where(condition)
            return int(await session.scalar(stmt) or 0)

    async def messages(self, *where: Any) -> list[Message]:
        async with self.runtime.sessions() as session:
            return list(await session.scalars(select(Message).where(*where).order_by(Message.id)))

    async def add_customer(self, *, phone: str, first_name: str = "Ngozi") -> int:
        async with unit_of_work(self.runtime.sessions) as session:
            customer = Customer(first_name=first_name, last_name="Okafor", mailing_zip="70112")
            session.add(customer)
            await session.flush()
            session.add(Contact(customer_id=customer.id, kind="phone", value=phone,
                                is_primary=True))
            return customer.id


def fake_twilio_client(twilio: FakeTwilio) -> Any:
    """The official twilio Client, talking to the in-memory fake API."""
    from twilio.rest import Client

    http = HttpxTwilioClient(transport=httpx.ASGITransport(app=twilio.app()))
    return Client(username=ACCOUNT_SID, password=AUTH_TOKEN, account_sid=ACCOUNT_SID,
                  http_client=http)


def fake_twilio_options() -> TwilioOptions:
    return TwilioOptions(status_callback=PUBLIC_BASE_URL + STATUS_PATH,
                         mps_overrides={UTILITY_NUMBER: 1000.0, WHATSAPP_NUMBER: 1000.0,
                                        "+15045550199": 1000.0})


def fake_twilio_sender(runtime: Runtime, twilio: FakeTwilio) -> TwilioSender:
    """The real TwilioSender and twilio Client, talking to the in-memory fake API."""

    async def no_sleep(_seconds: float) -> None:
        return None

    return TwilioSender(fake_twilio_client(twilio), limiter=runtime.limiter,
                        options=fake_twilio_options(), sleep=no_sleep)


@asynccontextmanager
async def local_runtime(db_url: str) -> AsyncIterator[Runtime]:
    """The domain without the app: `db_url` and in-process ports (no Redis, no HTTP)."""
    from core.db import make_engine, make_sessionmaker
    from core.local import local_ports

    engine = make_engine(db_url)
    ports = local_ports()
    runtime = Runtime(settings=Settings(database_url=db_url, env="test"), engine=engine,
                      sessions=make_sessionmaker(engine), bus=ports.bus, queue=ports.queue,
                      lock=ports.lock, limiter=ports.limiter, dedupe=ports.dedupe,
                      closers=[ports.close])
    try:
        yield runtime
    finally:
        await runtime.close()


@asynccontextmanager
async def messaging_app(db_url: str, *, inline_budget_s: float | None = None,
                        responder: Any = None, **settings: Any) -> AsyncIterator[Harness]:
    """The whole app on `db_url`, its replies going to a fake Twilio API (nothing leaves)."""
    from channels.twilio_sms.options import TwilioSmsOptions

    config = messaging_settings(db_url, **settings)
    runtime = await build_runtime(config)
    twilio = FakeTwilio()
    sender = fake_twilio_sender(runtime, twilio)
    runtime.extras["senders"] = {"sms": sender, "whatsapp": sender}
    # Outage notices go to the same fake API, through the real notice sender.
    notices = TwilioNoticeSender(fake_twilio_client(twilio), limiter=runtime.limiter,
                                 options=fake_twilio_options())
    runtime.extras["notice_senders"] = {"sms": notices, "whatsapp": notices}
    if responder is not None:
        runtime.extras["responder"] = responder
    if inline_budget_s is not None:
        runtime.extras["twilio_sms_options"] = TwilioSmsOptions(inline_budget_s=inline_budget_s)
    app = create_app(config, runtime=runtime)
    try:
        async with (app.router.lifespan_context(app),
                    httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                      base_url="http://test") as client):
            yield Harness(app, client, runtime, twilio)
    finally:
        await runtime.close()
