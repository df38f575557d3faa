"""PostgreSQL's one-statement store also reads what handling needs (service.Intake.pending),
so the handler that takes the message skips reading it again under the lock. That read comes
before the lock: these tests change the conversation, or handle the message, in between, and
the handler must then act on what is true when it marks the message, never on the early read.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from messaging_helpers import local_runtime
from sqlalchemy import event, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.conversations import flows, service
from core.conversations.models import Conversation, Message
from core.conversations.schemas import BotOutcome, InboundMessage, Reply, Turn
from core.customers.models import Contact, Customer
from core.db import rows_at_once, unit_of_work
from core.runtime import Runtime

pytestmark = pytest.mark.postgres

PHONE = "+15045550123"
UTILITY = "+15045550100"


@pytest.fixture
async def runtime(pg_url: str) -> AsyncIterator[Runtime]:
    async with local_runtime(pg_url) as rt:
        yield rt


class Recorder:
    """Echoes, remembering the turns it was given; its state counts the turns."""

    def __init__(self) -> None:
        self.turns: list[Turn] = []

    async def respond(self, session: AsyncSession, turn: Turn) -> BotOutcome:
        self.turns.append(turn)
        return BotOutcome(replies=(Reply(text=f"echo {turn.text}"),),
                          state={**turn.state, "turns": int(turn.state.get("turns", 0)) + 1})


def text(body: str, external_id: str) -> InboundMessage:
    return InboundMessage(channel="sms", external_id=external_id, sender=PHONE,
                          recipient=UTILITY, text=body)


async def opened(rt: Runtime) -> int:
    """A customer with an open conversation whose first message is handled."""
    async with unit_of_work(rt.sessions) as session:
        row = Customer(first_name="Ada", last_name="Okafor")
        session.add(row)
        await session.flush()
        session.add(Contact(customer_id=row.id, kind="phone", value=PHONE))
    first = await flows.intake(rt, text("hello", "SM0"))
    await flows.handle_conversation(rt, first.conversation_id, Recorder())
    return first.conversation_id


async def at_once(rt: Runtime, body: str, external_id: str) -> service.Intake:
    intake = await service.receive_at_once(rt.engine, inbound=text(body, external_id))
    assert intake is not None and intake.created
    return intake


async def replies_to(rt: Runtime, message_id: int) -> list[str]:
    async with rt.sessions() as session:
        return list(await session.scalars(select(Message.body).where(
            Message.reply_to_id == message_id).order_by(Message.id)))


async def bot_state(rt: Runtime, conversation_id: int) -> Any:
    async with rt.sessions() as session:
        return await session.scalar(select(Conversation.bot_state).where(
            Conversation.id == conversation_id))


def count_statements(rt: Runtime) -> list[str]:
    seen: list[str] = []

    @event.listens_for(rt.engine.sync_engine, "before_cursor_execute")
    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    return seen


async def test_the_store_reads_what_the_handler_would_read(runtime: Runtime) -> None:
    conversation_id = await opened(runtime)
    intake = await at_once(runtime, "STAT", "SM1")
    async with runtime.sessions() as session:
        under_lock = await flows._next_unhandled(session, conversation_id)
    assert intake.pending == under_lock
    assert intake.pending is not None and intake.pending.bot_state == {"turns": 1}


async def test_with_an_older_message_waiting_the_store_reads_nothing(runtime: Runtime) -> None:
    await opened(runtime)
    older = await at_once(runtime, "one", "SM1")
    newer = await at_once(runtime, "two", "SM2")
    assert older.pending is not None and newer.pending is None


async def test_a_fresh_read_is_handled_with_one_statement_less(runtime: Runtime) -> None:
    conversation_id = await opened(runtime)
    bot = Recorder()
    plain = await at_once(runtime, "one", "SM1")
    statements = count_statements(runtime)
    await flows.handle_conversation(runtime, conversation_id, bot, message_id=plain.message_id)
    read_under_lock = len(statements)
    statements.clear()
    fresh = await at_once(runtime, "two", "SM2")
    statements.clear()
    await flows.handle_conversation(runtime, conversation_id, bot, message_id=fresh.message_id,
                                    pending=fresh.pending)
    assert read_under_lock - len(statements) == 1
    assert [turn.text for turn in bot.turns] == ["one", "two"]
    assert await replies_to(runtime, fresh.message_id) == ["echo two"]
    assert [turn.state for turn in bot.turns] == [{"turns": 1}, {"turns": 2}]


async def test_an_agent_who_took_over_in_between_keeps_the_bot_out(runtime: Runtime) -> None:
    conversation_id = await opened(runtime)
    intake = await at_once(runtime, "are you there", "SM1")
    async with unit_of_work(runtime.sessions) as session:
        for owner in ("queued", "agent"):
            await service.transition(session, conversation_id=conversation_id, to=owner,
                                     reason="test", agent_id="agent-1")
    bot = Recorder()
    await flows.handle_conversation(runtime, conversation_id, bot,
                                    message_id=intake.message_id, pending=intake.pending)
    # The bot answered the early read, and its answer was rolled back at the mark; the
    # handler read again and found an agent owning the conversation: no bot reply.
    assert [turn.owner for turn in bot.turns] == ["bot"]
    assert await replies_to(runtime, intake.message_id) == []
    async with runtime.sessions() as session:
        handled = await session.scalar(select(Message.handled_at).where(
            Message.id == intake.message_id))
    assert handled is not None


async def test_a_state_changed_in_between_is_the_state_the_turn_sees(
        runtime: Runtime) -> None:
    conversation_id = await opened(runtime)
    intake = await at_once(runtime, "STAT", "SM1")
    async with unit_of_work(runtime.sessions) as session:
        await session.execute(update(Conversation).where(Conversation.id == conversation_id)
                              .values(bot_state={"turns": 7}, language="es"))
    bot = Recorder()
    await flows.handle_conversation(runtime, conversation_id, bot,
                                    message_id=intake.message_id, pending=intake.pending)
    # The first try saw the early read and was rolled back at the mark; the second did it.
    assert [(turn.state, turn.language) for turn in bot.turns] == [
        ({"turns": 1}, "en"), ({"turns": 7}, "es")]
    assert await replies_to(runtime, intake.message_id) == ["echo STAT"]
    assert await bot_state(runtime, conversation_id) == {"turns": 8}


async def test_an_older_message_committed_in_between_goes_first(runtime: Runtime) -> None:
    """Two texts of one conversation stored at once: the older one's transaction commits
    after the newer one's store statement took its snapshot, so the store saw nothing older
    waiting. The handled mark sees it, and the older one is handled first."""
    conversation_id = await opened(runtime)
    async with unit_of_work(runtime.sessions) as session:
        older = await service.receive(session, inbound=text("first", "SM1"))
        # Its statement starts now and waits for the conversation row this one holds.
        storing = asyncio.create_task(at_once(runtime, "second", "SM2"))
        await asyncio.sleep(0.5)
        assert not storing.done()
    newer = await storing
    assert older.message_id < newer.message_id and newer.pending is not None
    bot = Recorder()
    await flows.handle_conversation(runtime, conversation_id, bot,
                                    message_id=newer.message_id, pending=newer.pending)
    assert [turn.text for turn in bot.turns] == ["second", "first", "second"]
    assert await replies_to(runtime, older.message_id) == ["echo first"]
    assert await replies_to(runtime, newer.message_id) == ["echo second"]


async def test_a_message_handled_in_between_is_not_handled_again(runtime: Runtime) -> None:
    conversation_id = await opened(runtime)
    intake = await at_once(runtime, "once", "SM1")
    first = Recorder()
    await flows.handle_conversation(runtime, conversation_id, first)
    late = Recorder()
    handled = await flows.handle_conversation(runtime, conversation_id, late,
                                              message_id=intake.message_id,
                                              pending=intake.pending)
    assert handled == 0
    assert [turn.text for turn in first.turns] == ["once"]
    assert await replies_to(runtime, intake.message_id) == ["echo once"]


class Reader(Recorder):
    """A turn that reads before it answers (as a status question reads the account)."""

    async def respond(self, session: AsyncSession, turn: Turn) -> BotOutcome:
        await session.scalar(select(Conversation.owner).where(
            Conversation.id == turn.conversation_id))
        return await super().respond(session, turn)


class ReaderAtOnce(Recorder):
    """Reads as bot.identity.known_sender does: outside the transaction, while none began."""

    async def respond(self, session: AsyncSession, turn: Turn) -> BotOutcome:
        await rows_at_once(session, select(Conversation.owner).where(
            Conversation.id == turn.conversation_id))
        return await super().respond(session, turn)


def mark_transactions(rt: Runtime) -> list[str | None]:
    """For each handled mark: the isolation level its connection ran it at."""
    seen: list[str | None] = []

    @event.listens_for(rt.engine.sync_engine, "before_cursor_execute")
    def record(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().startswith("WITH mark AS"):
            seen.append(conn.get_execution_options().get("isolation_level"))

    return seen


async def test_a_turn_that_read_nothing_is_marked_in_autocommit(runtime: Runtime) -> None:
    """The mark is then the unit of work's only statement: no BEGIN, no COMMIT. A turn that
    read in its transaction keeps the mark there; one that read with db.rows_at_once (outside
    it) began none, so its mark runs in autocommit too. Each is written, once."""
    conversation_id = await opened(runtime)
    marks = mark_transactions(runtime)
    plain = await at_once(runtime, "hi", "SM1")
    await flows.handle_conversation(runtime, conversation_id, Recorder(),
                                    message_id=plain.message_id, pending=plain.pending)
    reading = await at_once(runtime, "STAT", "SM2")
    await flows.handle_conversation(runtime, conversation_id, Reader(),
                                    message_id=reading.message_id, pending=reading.pending)
    at_once_read = await at_once(runtime, "STAT", "SM3")
    await flows.handle_conversation(runtime, conversation_id, ReaderAtOnce(),
                                    message_id=at_once_read.message_id,
                                    pending=at_once_read.pending)
    assert marks == ["AUTOCOMMIT", None, "AUTOCOMMIT"]
    assert await replies_to(runtime, plain.message_id) == ["echo hi"]
    assert await replies_to(runtime, reading.message_id) == ["echo STAT"]
    assert await replies_to(runtime, at_once_read.message_id) == ["echo STAT"]
    assert await bot_state(runtime, conversation_id) == {"turns": 4}


async def test_rows_at_once_sees_the_units_own_writes_once_it_began(runtime: Runtime) -> None:
    """Outside the transaction only while none began: after a write, in it, so it reads
    what the unit of work has written and not yet committed."""
    async with runtime.sessions() as session:
        session.add(Customer(first_name="Bo", last_name="Unsaved"))
        await session.flush()
        rows = await rows_at_once(session, select(Customer.first_name).where(
            Customer.last_name == "Unsaved"))
        assert [row.first_name for row in rows] == ["Bo"]
        await session.rollback()
    async with runtime.sessions() as session:
        assert await rows_at_once(session, select(Customer.id).where(
            Customer.last_name == "Unsaved")) == []
