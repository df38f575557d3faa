"""The conversation domain on SQLite and PostgreSQL: idempotent intake, one identity across
channels, one open conversation per identity even under races, ownership through policy."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from messaging_helpers import local_runtime
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.conversations import flows, service
from core.conversations.models import Conversation, Message
from core.conversations.schemas import BotOutcome, Handoff, InboundMessage, Media, Reply, Turn
from core.customers.models import Contact, Customer
from core.db import unit_of_work
from core.errors import Conflict
from core.runtime import Runtime

PHONE = "+15045550123"
UTILITY = "+15045550100"


@pytest.fixture
async def runtime(db_url: str) -> AsyncIterator[Runtime]:
    async with local_runtime(db_url) as rt:
        yield rt


def inbound(text: str = "hi", *, external_id: str = "SM1", sender: str = PHONE,
            channel: str = "sms") -> InboundMessage:
    return InboundMessage(channel=channel, external_id=external_id, sender=sender,
                          recipient=UTILITY, text=text,
                          media=(Media("https://example.org/m.jpg", "image/jpeg"),))


async def customer(session: AsyncSession, *contacts: tuple[str, str]) -> int:
    row = Customer(first_name="Ada", last_name="Okafor")
    session.add(row)
    await session.flush()
    for kind, value in contacts:
        session.add(Contact(customer_id=row.id, kind=kind, value=value, language="es"))
    await session.flush()
    return row.id


async def count(rt: Runtime, model: type) -> int:
    async with rt.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_receive_is_idempotent_on_channel_and_external_id(runtime: Runtime) -> None:
    async with unit_of_work(runtime.sessions) as session:
        first = await service.receive(session, inbound=inbound())
    async with unit_of_work(runtime.sessions) as session:
        again = await service.receive(session, inbound=inbound("edited?"))
    assert first.created and not again.created
    assert again.message_id == first.message_id
    assert await count(runtime, Message) == 1
    # The same id on another channel is another message.
    async with unit_of_work(runtime.sessions) as session:
        other = await service.receive(session, inbound=inbound(channel="webchat"))
    assert other.created


async def test_concurrent_first_messages_open_one_conversation(runtime: Runtime) -> None:
    async def one(i: int) -> service.Intake:
        async with unit_of_work(runtime.sessions) as session:
            return await service.receive(session, inbound=inbound(external_id=f"SM{i}"))

    results = await asyncio.gather(*(one(i) for i in range(8)))
    assert len({r.conversation_id for r in results}) == 1
    assert await count(runtime, Conversation) == 1
    assert await count(runtime, Message) == 8


async def test_identity_across_sms_whatsapp_and_email(runtime: Runtime) -> None:
    async with unit_of_work(runtime.sessions) as session:
        customer_id = await customer(session, ("phone", PHONE), ("email", "ada@example.org"))
    async with unit_of_work(runtime.sessions) as session:
        sms = await service.receive(session, inbound=inbound(external_id="SM1"))
        whatsapp = await service.receive(session, inbound=inbound(
            external_id="SM2", sender=f"whatsapp:{PHONE}", channel="whatsapp"))
        email = await service.receive(session, inbound=inbound(
            external_id="<m1@example.org>", sender="Ada@Example.org", channel="email"))
    assert sms.customer_id == whatsapp.customer_id == email.customer_id == customer_id
    # One customer, one open conversation, whichever channel they use.
    assert sms.conversation_id == whatsapp.conversation_id == email.conversation_id
    async with runtime.sessions() as session:
        conversation = await session.get(Conversation, sms.conversation_id)
        assert conversation is not None
        assert (conversation.channel, conversation.language) == ("email", "es")


async def test_a_number_shared_by_two_customers_identifies_nobody(runtime: Runtime) -> None:
    async with unit_of_work(runtime.sessions) as session:
        await customer(session, ("phone", PHONE))
        await customer(session, ("phone", PHONE))
        result = await service.receive(session, inbound=inbound())
    assert result.customer_id is None


async def full_path(rt: Runtime, message: InboundMessage) -> service.Intake:
    async with unit_of_work(rt.sessions) as session:
        return await service.receive(session, inbound=message, answer_inline=True)


async def test_the_one_statement_intake_stores_what_the_full_path_stores(
        runtime: Runtime, db_url: str) -> None:
    """PostgreSQL takes most texts in one statement (service.receive_at_once); whatever it
    cannot take, it leaves untouched for `receive`. SQLite always takes the full path."""
    async def at_once(message: InboundMessage) -> service.Intake | None:
        return await service.receive_at_once(runtime.engine, inbound=message,
                                             answer_inline=True)

    async with unit_of_work(runtime.sessions) as session:
        customer_id = await customer(session, ("phone", PHONE))
        await customer(session, ("phone", "+15045550777"))
        await customer(session, ("phone", "+15045550777"))
    # A first message opens the conversation: only the full path does.
    assert await at_once(inbound(external_id="SM1")) is None
    assert await count(runtime, Message) == 0
    first = await full_path(runtime, inbound(external_id="SM1"))
    card = "my card 4111 1111 1111 1111 thanks"
    second = await at_once(inbound(card, external_id="SM2", sender=f"whatsapp:{PHONE}",
                                   channel="whatsapp"))
    if not db_url.startswith("postgresql"):
        assert second is None and await count(runtime, Message) == 1
        return
    assert second == service.Intake(message_id=second.message_id,
                                    conversation_id=first.conversation_id,
                                    customer_id=customer_id, owner="bot", created=True)
    async with runtime.sessions() as session:
        stored = await session.get(Message, second.message_id)
        conversation = await session.get(Conversation, first.conversation_id)
    assert stored is not None and conversation is not None
    assert (stored.direction, stored.channel, stored.external_id, stored.sender,
            stored.author, stored.status, stored.inline_state, stored.handled_at,
            stored.carrier_keyword, stored.provider_answered) == (
        "inbound", "whatsapp", "SM2", f"whatsapp:{PHONE}", "customer", "received",
        "waiting", None, None, False)
    assert "4111" not in stored.body and stored.media == [
        {"url": "https://example.org/m.jpg", "content_type": "image/jpeg"}]
    assert stored.created_at.tzinfo is not None
    # The conversation was touched: replies go back where the customer last wrote from.
    assert (conversation.channel, conversation.address) == ("whatsapp", f"whatsapp:{PHONE}")
    assert conversation.last_message_at == stored.created_at

    # A repeat, a carrier keyword and YES (it needs the consent) change nothing here.
    for message in (inbound("again", external_id="SM2", sender=f"whatsapp:{PHONE}",
                            channel="whatsapp"),
                    inbound("STOP", external_id="SM3"), inbound("yes", external_id="SM4")):
        assert await at_once(message) is None
    assert await count(runtime, Message) == 2

    # Unknown and shared numbers write in their address's conversation, as `receive` does.
    for sender in ("+15045550999", "+15045550777"):
        opened = await full_path(runtime, inbound(external_id=f"{sender}-1", sender=sender))
        later = await at_once(inbound(external_id=f"{sender}-2", sender=sender))
        assert later is not None and opened.customer_id is None
        assert (later.conversation_id, later.customer_id) == (opened.conversation_id, None)
    assert await count(runtime, Conversation) == 3


async def test_ownership_follows_the_state_machine(runtime: Runtime) -> None:
    async with unit_of_work(runtime.sessions) as session:
        result = await service.receive(session, inbound=inbound())
        cid = result.conversation_id
        for target in ("queued", "agent", "queued", "agent", "wrap_up", "closed"):
            await service.transition(session, conversation_id=cid, to=target, reason="test",
                                     agent_id="amy")
    for illegal in ("bot", "agent", "queued"):
        async with unit_of_work(runtime.sessions) as session:
            with pytest.raises(Conflict):
                await service.transition(session, conversation_id=cid, to=illegal, reason="x")
    async with runtime.sessions() as session:
        conversation = await session.get(Conversation, cid)
        assert conversation is not None and conversation.open_key is None
    # The next message opens a new conversation.
    async with unit_of_work(runtime.sessions) as session:
        later = await service.receive(session, inbound=inbound(external_id="SM9"))
    assert later.conversation_id != cid and later.owner == "bot"


class ScriptedBot:
    def __init__(self, outcome: BotOutcome | Exception) -> None:
        self.outcome = outcome
        self.turns: list[Turn] = []

    async def respond(self, session: AsyncSession, turn: Turn) -> BotOutcome:
        self.turns.append(turn)
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


async def _handle(runtime: Runtime, bot: ScriptedBot, text: str, external_id: str) -> int:
    result = await flows.intake(runtime, inbound(text, external_id=external_id))
    await flows.handle_conversation(runtime, result.conversation_id, bot)
    return result.conversation_id


async def test_handoff_moves_to_queue_with_summary_and_bot_state_is_kept(
        runtime: Runtime) -> None:
    bot = ScriptedBot(BotOutcome(
        replies=(Reply(text="One moment."),), state={"flow": "billing", "step": 2},
        handoff=Handoff(reason="customer_asked", skill="billing", priority=1,
                        summary={"intent": "billing_question"})))
    cid = await _handle(runtime, bot, "my bill doubled", "SM1")
    async with runtime.sessions() as session:
        conversation = await session.get(Conversation, cid)
        assert conversation is not None
        assert conversation.owner == "queued" and conversation.skill == "billing"
        assert conversation.handoff == {"reason": "customer_asked", "skill": "billing",
                                        "priority": 1,
                                        "summary": {"intent": "billing_question"}}
        assert conversation.bot_state == {"flow": "billing", "step": 2}
    assert bot.turns[0].text == "my bill doubled"
    assert bot.turns[0].media[0].content_type == "image/jpeg"


async def test_bot_stays_silent_while_an_agent_owns_the_conversation(runtime: Runtime) -> None:
    bot = ScriptedBot(BotOutcome(replies=(Reply(text="bot talking"),)))
    cid = await _handle(runtime, bot, "hi", "SM1")
    async with unit_of_work(runtime.sessions) as session:
        await service.transition(session, conversation_id=cid, to="queued", reason="t")
        await service.transition(session, conversation_id=cid, to="agent", reason="t",
                                 agent_id="amy")
    await _handle(runtime, bot, "are you there?", "SM2")
    assert len(bot.turns) == 1
    async with runtime.sessions() as session:
        replies = await session.scalar(select(func.count()).select_from(Message)
                                       .where(Message.direction == "outbound"))
        unhandled = await session.scalar(select(func.count()).select_from(Message)
                                         .where(Message.handled_at.is_(None),
                                                Message.direction == "inbound"))
    assert (replies, unhandled) == (1, 0)


async def test_a_failing_bot_hands_the_customer_to_a_person(runtime: Runtime) -> None:
    bot = ScriptedBot(RuntimeError("flow crashed"))
    cid = await _handle(runtime, bot, "hi", "SM1")
    async with runtime.sessions() as session:
        conversation = await session.get(Conversation, cid)
        assert conversation is not None and conversation.owner == "queued"
        assert conversation.handoff is not None
        assert conversation.handoff["reason"] == "bot_error"
        reply = await session.scalar(select(Message).where(Message.direction == "outbound"))
        assert reply is not None and "person" in reply.body


async def test_long_reply_is_split_between_words_into_pieces_twilio_accepts(
        runtime: Runtime) -> None:
    text = " ".join(f"word{i:04d}" for i in range(400))  # ~3,600 characters
    bot = ScriptedBot(BotOutcome(replies=(Reply(text=text),)))
    await _handle(runtime, bot, "explain my bill", "SM1")
    async with runtime.sessions() as session:
        pieces = list(await session.scalars(select(Message.body)
                                            .where(Message.direction == "outbound")
                                            .order_by(Message.id)))
    assert len(pieces) == 3
    assert " ".join(pieces) == text
    assert all(len(p) <= 1600 for p in pieces)


async def test_a_turns_replies_are_stored_in_order_with_extras_on_each_last_piece(
        runtime: Runtime) -> None:
    """The handled mark, the bot state and every piece of every reply are written together
    (one statement on PostgreSQL): in order, each reply's quick replies and media on its own
    last piece, all pending for the channel sender (nobody waited inline here)."""
    long = " ".join(f"word{i:04d}" for i in range(200))  # two pieces
    bot = ScriptedBot(BotOutcome(replies=(
        Reply(text=long, media_urls=("https://example.org/map.png",)),
        Reply(text="Anything else?", quick_replies=("yes", "no"))),
        state={"flow": "status", "step": 1}))
    cid = await _handle(runtime, bot, "status", "SM1")
    async with runtime.sessions() as session:
        inbound_row = await session.scalar(select(Message).where(Message.direction == "inbound"))
        rows = list(await session.scalars(select(Message).where(Message.direction == "outbound")
                                          .order_by(Message.id)))
        conversation = await session.get(Conversation, cid)
    assert inbound_row is not None and inbound_row.handled_at is not None
    assert conversation is not None and conversation.bot_state == {"flow": "status", "step": 1}
    assert [len(r.body) > 0 for r in rows] == [True, True, True]
    assert " ".join(r.body for r in rows[:2]) == long and rows[2].body == "Anything else?"
    assert [r.media for r in rows] == [
        [], [{"url": "https://example.org/map.png", "content_type": ""}], []]
    assert [r.quick_replies for r in rows] == [[], [], ["yes", "no"]]
    assert {(r.status, r.author, r.purpose, r.reply_to_id, r.recipient, r.sender)
            for r in rows} == {("pending", "bot", "reply", inbound_row.id, PHONE, UTILITY)}
    # A second handler finds the message taken and writes nothing.
    assert await flows.handle_conversation(runtime, cid, bot) == 0
    assert await count(runtime, Message) == 4
