"""A customer's phone for bot tests: text the utility through the real, signed SMS webhook and
read back every reply the pipeline stored for that text (inline TwiML or REST alike)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy import select

from core.clock import today
from core.conversations.models import Conversation, Message
from core.db import make_engine
from core.demo.generator import SeedOptions, seed_demo_utility
from core.demo.personas import DEMO_PERSONAS, Persona
from tests.messaging_helpers import SMS_PATH, Harness, messaging_app, post_signed, sms_payload

# The demo history ends today, because the bot reasons with the real clock (due dates, aging).
AS_OF = today()


def persona(key: str) -> Persona:
    return next(p for p in DEMO_PERSONAS if p.key == key)


@dataclass
class Phone:
    harness: Harness
    number: str

    async def text(self, body: str) -> list[str]:
        """Send one SMS; return the texts the utility answered it with, in order."""
        payload = sms_payload(sender=self.number, body=body)
        response = await post_signed(self.harness.client, SMS_PATH, payload)
        assert response.status_code == 200, response.text
        async with self.harness.runtime.sessions() as session:
            inbound = (await session.execute(select(Message).where(
                Message.external_id == payload["MessageSid"]))).scalar_one()
            replies = await session.scalars(select(Message).where(
                Message.reply_to_id == inbound.id, Message.direction == "outbound",
            ).order_by(Message.id))
            return [m.body for m in replies]

    async def conversation(self) -> Conversation:
        async with self.harness.runtime.sessions() as session:
            return (await session.execute(select(Conversation).where(
                Conversation.address == self.number).order_by(Conversation.id.desc()))
            ).scalars().first()


@asynccontextmanager
async def seeded_utility(db_url: str, customers: int = 30,
                         **settings: object) -> AsyncIterator[Harness]:
    """A small demo utility (the personas first) behind the whole app."""
    engine = make_engine(db_url)
    try:
        await seed_demo_utility(engine, SeedOptions(customers=customers, seed=11, months=6,
                                                    as_of=AS_OF))
    finally:
        await engine.dispose()
    # A generous inline budget: these tests read replies from the store either way.
    async with messaging_app(db_url, inline_budget_s=5.0, **settings) as harness:
        yield harness
