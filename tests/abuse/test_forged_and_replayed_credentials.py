"""Signatures and tokens replayed where they do not belong, edited, or forged.

Twilio signs URL + fields with no timestamp, so an exact replay is let in and made harmless by
idempotency (stored once); anything else (another URL, another field, another query) is a 403.
The OMS signs a timestamp, so an old capture is a 403 even with a valid MAC."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
from sqlalchemy import select

from agent_console.auth import tokens
from core.auth.models import ApiToken
from core.clock import utcnow
from core.conversations.models import Message
from core.db import unit_of_work
from core.network.models import Transformer
from core.outages.models import Outage
from tests.messaging_helpers import (
    AUTH_TOKEN,
    PUBLIC_BASE_URL,
    SMS_PATH,
    STATUS_PATH,
    Harness,
    sms_payload,
    twilio_signature,
)

from .kit import Callers, abuse_app, basic_auth, make_callers, oms_headers

VOICE_PATH = "/channels/twilio/voice"
OMS_PATH = "/api/v1/oms/events"


@pytest.fixture
async def app(sqlite_url: str, tmp_path: Path) -> AsyncIterator[tuple[Harness, Callers]]:
    async with abuse_app(sqlite_url, tmp_path / "mail") as harness:
        yield harness, await make_callers(harness)


async def _post(harness: Harness, path: str, form: dict[str, str], signature: str,
                **headers: str):
    return await harness.client.post(path, data=form,
                                     headers={"X-Twilio-Signature": signature, **headers})


async def test_a_twilio_signature_is_good_for_its_url_and_fields_only(app) -> None:
    harness, _ = app
    form = sms_payload(sender="+15045550123", body="OUT")
    good = twilio_signature(PUBLIC_BASE_URL + SMS_PATH, form)
    attempts = {
        "status url": await _post(harness, STATUS_PATH, form, good),
        "voice url": await _post(harness, VOICE_PATH, form, good),
        "query added": await _post(harness, SMS_PATH + "?x=1", form, good),
        "body edited": await _post(harness, SMS_PATH, {**form, "Body": "STOP"}, good),
        "sender edited": await _post(harness, SMS_PATH, {**form, "From": "+15045550999"}, good),
        "field added": await _post(harness, SMS_PATH, {**form, "OptOutType": "STOP"}, good),
        "field dropped": await _post(harness, SMS_PATH,
                                     {k: v for k, v in form.items() if k != "NumMedia"}, good),
        "http not https": await _post(harness, SMS_PATH, form, twilio_signature(
            PUBLIC_BASE_URL.replace("https:", "http:") + SMS_PATH, form)),
        "another account's token": await _post(harness, SMS_PATH, form, twilio_signature(
            PUBLIC_BASE_URL + SMS_PATH, form, token="AC-other-" + AUTH_TOKEN)),
        "sha256 claimed over a sha1 mac": await _post(
            harness, SMS_PATH, form, good,
            **{"X-Twilio-Webhooks-Signature-Settings": "algorithm=HMAC_SHA256"}),
        "unknown algorithm": await _post(
            harness, SMS_PATH, form, good,
            **{"X-Twilio-Webhooks-Signature-Settings": "algorithm=MD5"}),
        "empty": await _post(harness, SMS_PATH, form, ""),
    }
    assert {name: r.status_code for name, r in attempts.items()} == {
        name: 403 for name in attempts}
    assert await harness.count(Message) == 0


async def test_an_exact_twilio_replay_is_stored_once(app) -> None:
    harness, _ = app
    form = sms_payload(sender="+15045550123", body="BAL")
    signature = twilio_signature(PUBLIC_BASE_URL + SMS_PATH, form)
    first = await _post(harness, SMS_PATH, form, signature)
    again = await _post(harness, SMS_PATH, form, signature)
    assert (first.status_code, again.status_code) == (200, 200)
    assert "<Message" not in again.text  # answered once, the first time
    assert await harness.count(Message, Message.direction == "inbound") == 1


async def test_a_status_callback_signed_for_one_message_cannot_move_another(app) -> None:
    harness, _ = app
    form = {"MessageSid": "SM" + "1" * 32, "MessageStatus": "delivered", "To": "+15045550123",
            "From": "+15045550100", "AccountSid": "AC" + "5f" * 16}
    signature = twilio_signature(PUBLIC_BASE_URL + STATUS_PATH + "?m=1", form)
    moved = await _post(harness, STATUS_PATH + "?m=2", form, signature)
    assert moved.status_code == 403


def _confirm(event_id: str, code: str = "no-such") -> bytes:
    return json.dumps([{"event_id": event_id, "type": "confirm",
                        "device": {"kind": "transformer", "code": code}}]).encode()


async def test_an_old_or_future_oms_delivery_is_403_even_with_a_valid_mac(app) -> None:
    harness, _ = app
    body = _confirm("oms-old")
    now = time.time()
    for at in (now - 310, now - 86_400, now + 310):
        response = await harness.client.post(OMS_PATH, content=body,
                                             headers=oms_headers(body, at=at))
        assert response.status_code == 403, (at - now, response.text)
    # The MAC covers the timestamp: a fresh timestamp on an old signature is a forgery.
    stale = oms_headers(body, at=now - 3_600)
    stale["X-Stormdesk-Timestamp"] = str(int(now))
    forged = await harness.client.post(OMS_PATH, content=body, headers=stale)
    assert forged.status_code == 403
    assert await harness.count(Outage) == 0


async def test_an_oms_signature_is_good_for_its_body_only(app) -> None:
    harness, _ = app
    signed_for = _confirm("oms-a")
    for body, headers in ((_confirm("oms-b"), oms_headers(signed_for)),
                          (signed_for + b" ", oms_headers(signed_for)),
                          (signed_for, oms_headers(signed_for, secret="guessed")),
                          (signed_for, {**oms_headers(signed_for),
                                        "X-Stormdesk-Signature": "sha256=" + "0" * 64}),
                          (signed_for, {**oms_headers(signed_for),
                                        "X-Stormdesk-Signature": "sha256=ü".encode()})):
        response = await harness.client.post(OMS_PATH, content=body, headers=headers)
        assert response.status_code == 403, response.text


async def test_an_exact_oms_replay_inside_the_window_applies_nothing_twice(app) -> None:
    harness, _ = app
    async with harness.runtime.sessions() as session:
        code = await session.scalar(select(Transformer.code).limit(1))
    body = _confirm("oms-replayed", code)
    headers = oms_headers(body)
    first = await harness.client.post(OMS_PATH, content=body, headers=headers)
    again = await harness.client.post(OMS_PATH, content=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert [r["status"] for r in first.json()["results"]] == ["applied"]
    assert [r["status"] for r in again.json()["results"]] == ["duplicate"]
    assert await harness.count(Outage) == 1


async def test_inbound_email_credentials_must_match_exactly(app) -> None:
    harness, _ = app
    body = b"--x\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nhi\r\n--x--\r\n"
    for headers in ({}, basic_auth(password="parse-secret-for-abuse-test"),
                    basic_auth(user="SendGrid"), basic_auth(password=""),
                    {"Authorization": "Bearer " + basic_auth()["Authorization"][6:]},
                    {"Authorization": "Basic %%%"}, {"Authorization": "Basic " + "A" * 5000}):
        response = await harness.client.post("/channels/email/inbound", content=body, headers={
            **headers, "Content-Type": "multipart/form-data; boundary=x"})
        assert response.status_code == 401, (headers, response.text)
    assert await harness.count(Message) == 0


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_forged_console_tokens_are_401(app) -> None:
    harness, callers = app
    secret = harness.runtime.settings.secret_key.get_secret_value()
    real = callers.amy["Authorization"].removeprefix("Bearer ")
    claims = jwt.decode(real, options={"verify_signature": False})
    forged = {
        "alg none": jwt.encode({**claims, "role": "admin"}, key=None, algorithm="none"),
        "raw app secret": jwt.encode({**claims, "role": "admin"}, secret, algorithm="HS256"),
        "another key": jwt.encode({**claims, "role": "admin"}, "x" * 32, algorithm="HS256"),
        "expired": jwt.encode({**claims, "iat": 1, "exp": 2}, tokens.signing_key(secret),
                              algorithm="HS256"),
        "other audience": jwt.encode({**claims, "aud": "someone-else"},
                                     tokens.signing_key(secret), algorithm="HS256"),
        # The real signature on an edited payload.
        "role escalated": ".".join([real.split(".")[0], _b64url(json.dumps(
            {**claims, "role": "admin"}).encode()), real.split(".")[2]]),
    }
    for name, token in forged.items():
        for path in ("/api/v1/agent/state", "/api/v1/customers?phone=5045550101"):
            response = await harness.client.get(path, headers={
                "Authorization": f"Bearer {token}"})
            assert response.status_code == 401, (name, path, response.text)


async def test_a_revoked_or_expired_api_token_is_401(app) -> None:
    harness, callers = app
    path = "/api/v1/customers?phone=5045550101"
    assert (await harness.client.get(path, headers=callers.admin)).status_code == 200
    async with unit_of_work(harness.runtime.sessions) as session:
        row = await session.scalar(select(ApiToken).where(ApiToken.name == "root"))
        row.revoked_at = utcnow()
    assert (await harness.client.get(path, headers=callers.admin)).status_code == 401
    async with unit_of_work(harness.runtime.sessions) as session:
        row = await session.scalar(select(ApiToken).where(ApiToken.name == "ops"))
        row.expires_at = utcnow() - timedelta(seconds=1)
    assert (await harness.client.get(path, headers=callers.operations)).status_code == 401


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")
