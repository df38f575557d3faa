"""A card number typed into any channel is never stored or logged in clear (PCI DSS: keep the
contact center out of scope). After each channel, every column of every table (JSON too), the
email store's files and everything logged (stdlib logging at DEBUG for our packages, and
structlog's stderr output) are searched for the digits, with spaces, dashes or dots between
groups folded away."""

from __future__ import annotations

import asyncio
import json
import logging
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from websockets.asyncio.client import connect

from channels.webchat.client import ChatClient
from core.accounts.models import Account
from core.conversations.models import Message
from core.customers.models import Customer
from core.db import unit_of_work
from tests.messaging_helpers import (
    PUBLIC_BASE_URL,
    SMS_PATH,
    Harness,
    post_signed,
    sid,
    sms_payload,
)

from .kit import (
    CARD,
    CARD_DIGITS,
    CARD_SHAPES,
    Callers,
    abuse_app,
    basic_auth,
    files_containing,
    joined_digits,
    make_callers,
    persona,
    served,
    stored_texts_containing,
)

OUR_PACKAGES = ("core", "channels", "bot", "agent_console", "integrations", "stormdesk")


@dataclass
class Scene:
    harness: Harness
    callers: Callers
    store: Path
    caplog: pytest.LogCaptureFixture
    capfd: pytest.CaptureFixture[str]

    async def leaks(self) -> dict[str, list[str]]:
        """Where the card number can still be read in clear."""
        out, err = self.capfd.readouterr()
        logged = f"{self.caplog.text}\n{out}\n{err}"
        return {"database": await stored_texts_containing(self.harness, CARD_DIGITS),
                "files": files_containing(self.store, CARD_DIGITS),
                "logs": [line for line in logged.splitlines()
                         if CARD_DIGITS in joined_digits(line)]}

    async def inbound_bodies(self, channel: str) -> list[str]:
        return [m.body for m in await self.harness.messages(
            Message.channel == channel, Message.direction == "inbound")]


NOWHERE = {"database": [], "files": [], "logs": []}


@pytest.fixture
async def scene(db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture,
                capfd: pytest.CaptureFixture[str]) -> AsyncIterator[Scene]:
    for name in OUR_PACKAGES:
        caplog.set_level(logging.DEBUG, logger=name)
    store = tmp_path / "mail"
    async with abuse_app(db_url, store) as harness:
        yield Scene(harness, await make_callers(harness), store, caplog, capfd)


def _masked(bodies: list[str]) -> None:
    assert bodies and all("6467" in b and "•" in b for b in bodies), bodies


async def test_sms(scene: Scene) -> None:
    phone = persona("resident").phone
    for shape in CARD_SHAPES:
        response = await post_signed(scene.harness.client, SMS_PATH, sms_payload(
            sender=phone, body=f"pay with {shape} exp 12/29 cvv 123"))
        assert response.status_code == 200, response.text
    _masked(await scene.inbound_bodies("sms"))
    assert await scene.leaks() == NOWHERE


async def test_email_body_and_subject(scene: Scene) -> None:
    headers = (f"From: Dana Whitfield <dana@example.com>\r\nTo: help@riverbend.example\r\n"
               f"Subject: card {CARD} for my bill\r\nMessage-ID: <{sid('m')}@example.com>\r\n")
    parts = {"headers": headers, "from": "Dana Whitfield <dana@example.com>",
             "to": "help@riverbend.example", "subject": f"card {CARD} for my bill",
             "text": f"Please charge {CARD_SHAPES[2]} exp 12/29.\r\n"}
    body = "".join(f'--xYz\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                   for k, v in parts.items()) + "--xYz--\r\n"
    response = await scene.harness.client.post("/channels/email/inbound", content=body.encode(),
                                               headers={**basic_auth(), "Content-Type":
                                                        "multipart/form-data; boundary=xYz"})
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "stored"
    _masked(await scene.inbound_bodies("email"))
    assert await scene.leaks() == NOWHERE


async def test_web_chat(scene: Scene) -> None:
    async with served(scene.harness.app) as host:
        chat = await ChatClient.connect(f"ws://{host}/channels/webchat/ws")
        try:
            for shape in CARD_SHAPES:
                client_id = await chat.send(f"my card is {shape}")
                await chat.wait_for("ack", id=client_id)
        finally:
            await chat.ws.close()
    _masked(await scene.inbound_bodies("webchat"))
    assert await scene.leaks() == NOWHERE


async def test_voice_speech_and_keypad(scene: Scene) -> None:
    client, caller = scene.harness.client, persona("resident").phone
    call_sid = sid("CA")
    form = {"CallSid": call_sid, "From": caller, "Caller": caller, "To": "+15045550100",
            "Called": "+15045550100", "CallStatus": "ringing", "Direction": "inbound",
            "AccountSid": "AC" + "5f" * 16, "ApiVersion": "2010-04-01"}

    async def step(path: str, **extra: str) -> str | None:
        response = await post_signed(client, path, {**form, **extra})
        assert response.status_code == 200, response.text
        gather = ET.fromstring(response.text).find("Gather")
        return None if gather is None else gather.get("action")

    action = await step("/channels/twilio/voice")
    for extra in ({"SpeechResult": f"my card number is {CARD}", "Confidence": "0.93"},
                  {"Digits": CARD_DIGITS}):
        assert action, "the line stopped listening"
        action = await step(action.removeprefix(PUBLIC_BASE_URL), CallStatus="in-progress",
                            **extra)
    assert await scene.leaks() == NOWHERE


async def _seed_account(scene: Scene) -> int:
    async with scene.harness.runtime.sessions() as session:
        return await session.scalar(select(Account.id).where(
            Account.number == persona("resident").account_number))


MEMO_FIELDS = {
    "payment memo": ("POST", "/api/v1/accounts/{a}/payments", "admin",
                     {"amount": "1.00", "method": "check", "memo": "paid by card " + CARD}),
    "adjustment reason": ("POST", "/api/v1/accounts/{a}/adjustments", "admin",
                          {"amount": "-1.00", "reason": "refund to card " + CARD}),
    "account note": ("POST", "/api/v1/agent/accounts/{a}/notes", "sue",
                     {"body": "customer read out " + CARD}),
    "medical hold reason": ("POST", "/api/v1/accounts/{a}/medical-hold", "admin",
                            {"until": "2099-01-01", "reason": "card " + CARD}),
    "storm message": ("PUT", "/api/v1/storm", "admin",
                      {"active": True, "message": "pay with " + CARD}),
    "customer address": ("POST", "/api/v1/customers", "admin",
                         {"first_name": "Ann", "last_name": "Lee",
                          "mailing_address": "card " + CARD}),
    "premise address": ("POST", "/api/v1/premises", "admin",
                        {"address": "12 Elm " + CARD, "city": "Tulsa", "state": "OK",
                         "zip": "74101"}),
    "payment reference": ("POST", "/api/v1/accounts/{a}/payments", "admin",
                          {"amount": "1.00", "method": "card", "reference": CARD_DIGITS}),
}
# Masking a processor's reference could make two payments one (it is the idempotency key).
NOT_MASKED = {"payment reference": "the processor's reference is stored as sent "
              "(core/billing/schemas.py:81, PaymentIn.reference): masking it would merge two "
              "payments whose references share the last four digits"}


@pytest.mark.parametrize("field", [
    pytest.param(name, marks=[pytest.mark.xfail(strict=True, reason=NOT_MASKED[name])]
                 if name in NOT_MASKED else []) for name in MEMO_FIELDS])
async def test_rest_memo_fields(scene: Scene, field: str) -> None:
    method, path, who, body = MEMO_FIELDS[field]
    account_id = await _seed_account(scene)
    response = await scene.harness.client.request(
        method, path.format(a=account_id), json=body, headers=getattr(scene.callers, who))
    assert response.status_code < 300, response.text
    assert await scene.leaks() == NOWHERE


async def test_the_sweep_finds_a_card_number_kept_in_clear(scene: Scene) -> None:
    """The sweep itself can fail: a raw write and a raw log line are both found."""
    async with unit_of_work(scene.harness.runtime.sessions) as session:
        first = await session.scalar(select(func.min(Customer.id)))
        await session.execute(update(Customer).where(Customer.id == first).values(
            mailing_address="pay " + CARD_SHAPES[2]))
    logging.getLogger("core.abuse").warning("charging %s", CARD.replace(" ", "."))
    leaks = await scene.leaks()
    assert leaks["database"] == ["customers.mailing_address"]
    assert leaks["files"] == [] and leaks["logs"]


async def test_console_notes_sent_over_the_agent_socket(scene: Scene) -> None:
    """The socket's commands skip the REST schemas (and their FreeText masking)."""
    response = await post_signed(scene.harness.client, SMS_PATH, sms_payload(
        sender=persona("resident").phone, body="I need a person"))
    assert response.status_code == 200, response.text
    (inbound,) = await scene.harness.messages(Message.direction == "inbound")
    token = scene.callers.sue["Authorization"].removeprefix("Bearer ")
    async with served(scene.harness.app) as host, connect(f"ws://{host}/agent/ws") as ws:
        await ws.send(json.dumps({"type": "hello", "token": token}))
        assert json.loads(await ws.recv())["type"] == "welcome"
        await ws.send(json.dumps({"type": "note.add", "ref": "n",
                                  "conversation_id": inbound.conversation_id,
                                  "body": f"customer read out {CARD}"}))
        async with asyncio.timeout(10):
            while (frame := json.loads(await ws.recv())).get("ref") != "n":
                pass
    assert frame["type"] == "ack", frame
    assert await scene.leaks() == NOWHERE
