"""SQL and template injection strings in the REST API's text fields and in SMS bodies: stored
exactly as sent (or refused), never executed or interpreted.

The bot renders replies with str.format on its TEMPLATES (bot/replies.py); the template is
always looked up by a key from code, and customer text only ever arrives as a *value*, which
str.format inserts without reading it again. NICK echoes the customer's own words back in a
template (`nick_done`), so it is where an interpreted "{utility}" would show."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.replies import Templates
from core.accounts.models import Account
from core.adjustments.models import AdjustmentRequest
from core.agents.models import AccountNote
from core.billing.models import LedgerEntry
from core.conversations.models import Message
from core.customers.models import Customer
from core.network.models import Transformer
from core.outages.models import Outage
from core.premises.models import Premise
from tests.messaging_helpers import SMS_PATH, Harness, post_signed, sms_payload

from .kit import INJECTIONS, Callers, abuse_app, make_callers, persona


@pytest.fixture
async def app(db_url: str, tmp_path: Path) -> AsyncIterator[tuple[Harness, Callers]]:
    async with abuse_app(db_url, tmp_path / "mail") as harness:
        yield harness, await make_callers(harness)


async def _one(harness: Harness, stmt):
    async with harness.runtime.sessions() as session:
        return await session.scalar(stmt)


async def test_rest_text_fields_store_injections_verbatim(app) -> None:
    harness, callers = app
    client = harness.client
    account_id = await _one(harness, select(Account.id).where(
        Account.number == persona("resident").account_number))
    code = await _one(harness, select(Transformer.code).order_by(Transformer.id).limit(1))
    customers_before = await harness.count(Customer)
    for n, text in enumerate(INJECTIONS):
        created = await client.post("/api/v1/customers", headers=callers.admin, json={
            "first_name": text, "last_name": text, "business_name": text,
            "mailing_address": text, "mailing_city": text})
        assert created.status_code == 201, created.text
        customer = await _one(harness, select(Customer).where(
            Customer.id == created.json()["id"]))
        assert (customer.first_name, customer.last_name, customer.business_name,
                customer.mailing_address, customer.mailing_city) == (text,) * 5

        premise = await client.post("/api/v1/premises", headers=callers.admin, json={
            "address": text, "city": text, "state": "OK", "zip": "73101",
            "nickname": text[:40], "account_id": account_id})
        assert premise.status_code == 201, premise.text
        row = await _one(harness, select(Premise).where(Premise.id == premise.json()["id"]))
        assert (row.address, row.city, row.nickname) == (text, text, text[:40])

        paid = await client.post(f"/api/v1/accounts/{account_id}/payments",
                                 headers=callers.admin, json={
                                     "amount": "1.00", "method": "card",
                                     "reference": f"{n}:{text}"[:64], "memo": text})
        assert paid.status_code == 201, paid.text
        entry = await _one(harness, select(LedgerEntry).where(
            LedgerEntry.id == paid.json()["payment"]["id"]))
        assert (entry.memo, entry.reference) == (text, f"{n}:{text}"[:64])

        adjusted = await client.post(f"/api/v1/accounts/{account_id}/adjustments",
                                     headers=callers.admin,
                                     json={"amount": "-1.00", "reason": text})
        assert adjusted.status_code == 201, adjusted.text
        assert await _one(harness, select(AdjustmentRequest.reason).where(
            AdjustmentRequest.id == adjusted.json()["request"]["id"])) == text

        note = await client.post(f"/api/v1/agent/accounts/{account_id}/notes",
                                 headers=callers.sue, json={"body": text})
        assert note.status_code == 200, note.text
        assert await _one(harness, select(AccountNote.body).where(
            AccountNote.id == note.json()["note_id"])) == text

        storm = await client.put("/api/v1/storm", headers=callers.admin, json={
            "active": n % 2 == 0, "message": text, "reason": text})
        assert storm.status_code == 200, storm.text
        assert (storm.json()["message"], storm.json()["reason"]) == (text, text)

        confirmed = await client.post("/api/v1/outages/confirm", headers=callers.operations,
                                      json={"device": {"kind": "transformer", "code": code},
                                            "cause": text[:80]})
        assert confirmed.status_code in (200, 201), confirmed.text
        outage_id = confirmed.json()["id"]
        crewed = await client.put(f"/api/v1/outages/{outage_id}/crew",
                                  headers=callers.operations, json={"crew": text[:40]})
        assert crewed.status_code == 200, crewed.text
        outage = await _one(harness, select(Outage).where(Outage.id == outage_id))
        assert (outage.cause, outage.crew) == (text[:80], text[:40])
    # Nothing was executed: every table is still there, with exactly what was added.
    assert await harness.count(Customer) == customers_before + len(INJECTIONS)
    assert await _one(harness, select(func.count()).select_from(Message)) is not None


async def test_sms_bodies_are_stored_verbatim_and_answered_from_templates(
        app, caplog: pytest.LogCaptureFixture) -> None:
    harness, _ = app
    caplog.set_level(logging.ERROR)
    for text in INJECTIONS:
        form = sms_payload(sender=persona("resident").phone, body=text)
        response = await post_signed(harness.client, SMS_PATH, form)
        assert response.status_code == 200, response.text
        (stored,) = await harness.messages(Message.external_id == form["MessageSid"])
        assert stored.body == text
        replies = await harness.messages(Message.reply_to_id == stored.id)
        assert replies, f"no answer to {text!r}"
        for reply in replies:
            assert "49" not in reply.body and "<script>" not in reply.body, reply.body
            assert "{" not in reply.body and "%s" not in reply.body, reply.body
    assert [r.getMessage() for r in caplog.records if r.name.startswith(("core", "bot"))] == []


async def test_customer_words_echoed_in_a_reply_are_values_never_a_template(app) -> None:
    harness, _ = app
    for text in ("{utility}", "{{7*7}}", "${7*7}", "%s%s%n", "{0.__class__}",
                 "'; DROP TABLE customers; --"):
        form = sms_payload(sender=persona("resident").phone, body=f"NICK {text}")
        response = await post_signed(harness.client, SMS_PATH, form)
        assert response.status_code == 200, response.text
        (inbound,) = await harness.messages(Message.external_id == form["MessageSid"])
        (saved,) = [m.body for m in await harness.messages(Message.reply_to_id == inbound.id)]
        # The keyword grammar keeps the words of a nickname and drops the punctuation around
        # them; what it kept is quoted back as typed, never expanded.
        nickname = saved.split('"')[1]
        assert nickname and nickname in text, saved
        assert harness.runtime.settings.utility_name not in saved and "49" not in saved
        async with harness.runtime.sessions() as session:
            nicknames = set(await session.scalars(select(Premise.nickname).join(
                Account, Account.id == Premise.account_id).where(
                Account.number == persona("resident").account_number)))
        assert nickname in nicknames


def test_template_values_are_inserted_not_read() -> None:
    """The renderer itself: a value that looks like a template stays text."""
    reply = Templates().render("nick_done", address="{utility_phone}",
                               nickname="{0.__class__.__mro__}", utility="Riverbend")
    assert reply.text == 'Saved: {utility_phone} is now "{0.__class__.__mro__}".'
