"""The handler's "oldest unhandled message" and the sweep read the partial index of messages
not handled yet, so their cost does not grow with the history (migration 0008).

On PostgreSQL the check is made against the generic plan of the prepared statement, the plan
a hot statement ends up with after a few executions: a partial index whose predicate rests on
a bound parameter would be skipped there, which is why the queries spell the value as a
literal."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.clock import utcnow
from core.config import Settings
from core.conversations import flows
from core.conversations.models import Conversation, Message
from core.db import make_sessionmaker
from core.local import local_ports
from core.runtime import Runtime

HISTORY = 3000  # handled messages and replies ahead of the one waiting


async def _long_conversation(engine: AsyncEngine) -> tuple[int, int]:
    """A conversation with HISTORY handled rows, then two unhandled inbound messages, all
    stored 5 minutes ago. Returns (conversation id, the older unhandled message's id)."""
    now = utcnow()
    async with engine.begin() as conn:
        conversation_id = (await conn.execute(insert(Conversation).values(
            channel="sms", address="+15045550123", owner="bot", bot_state={},
            opened_at=now, last_message_at=now, owner_changed_at=now,
        ).returning(Conversation.id))).scalar_one()
        row = {"conversation_id": conversation_id, "channel": "sms", "sender": "+15045550123",
               "recipient": "+15045550100", "body": "x", "media": [], "quick_replies": [],
               "purpose": "reply", "status_rank": 1, "provider_answered": False}
        old = now - timedelta(minutes=5)
        await conn.execute(insert(Message), [
            {**row, "direction": "inbound" if i % 2 else "outbound", "author": "customer",
             "status": "received" if i % 2 else "delivered", "handled_at": old,
             "created_at": old, "external_id": f"SMold{i}"} for i in range(HISTORY)])
        waiting = [(await conn.execute(insert(Message).values(
            **row, direction="inbound", author="customer", status="received",
            created_at=old, external_id=f"SMnew{i}").returning(Message.id))).scalar_one()
            for i in range(2)]
        await conn.exec_driver_sql("ANALYZE messages")  # as autovacuum would, by then
    return conversation_id, waiting[0]


async def _plan(conn: AsyncConnection, statement: object, values: dict[str, object]) -> str:
    compiled = statement.compile(dialect=conn.dialect)  # type: ignore[attr-defined]
    params = compiled.construct_params(values)
    args = [params[name] for name in compiled.positiontup]
    if conn.dialect.name == "postgresql":
        await conn.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
        await conn.exec_driver_sql(f"PREPARE work_query AS {compiled}")
        quoted = ", ".join(f"'{arg}'" for arg in args)  # our own test values: no injection
        execute = f"EXECUTE work_query({quoted})" if args else "EXECUTE work_query"
        rows = await conn.exec_driver_sql(f"EXPLAIN {execute}")
        await conn.exec_driver_sql("DEALLOCATE work_query")
    else:
        rows = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", tuple(args))
    return "\n".join(" ".join(str(v) for v in row) for row in rows)


async def test_next_unhandled_reads_only_the_unhandled(engine: AsyncEngine) -> None:
    conversation_id, oldest_waiting = await _long_conversation(engine)
    async with engine.connect() as conn:
        found = (await conn.execute(flows._NEXT_UNHANDLED,
                                    {"conversation": conversation_id})).one()
        assert found.id == oldest_waiting
        plan = await _plan(conn, flows._NEXT_UNHANDLED, {"conversation": conversation_id})
    assert "ix_messages_unhandled_inbound" in plan, plan


async def test_the_sweep_reads_only_the_unhandled(engine: AsyncEngine) -> None:
    conversation_id, _ = await _long_conversation(engine)
    async with engine.connect() as conn:
        found = (await conn.execute(flows._UNHANDLED)).all()
        assert [row.conversation_id for row in found] == [conversation_id] * 2
        plan = await _plan(conn, flows._UNHANDLED, {})
    assert "ix_messages_unhandled_inbound" in plan, plan


async def test_the_sweep_queues_only_what_fell_in_its_window(engine: AsyncEngine) -> None:
    """The window is applied after the read: stored 5 minutes ago and unhandled, the
    conversation is queued by a sweep looking back a day, not by one looking back a minute,
    nor by one that waits 10 minutes before touching a message."""
    await _long_conversation(engine)
    ports = local_ports()
    runtime = Runtime(settings=Settings(env="test"), engine=engine,
                      sessions=make_sessionmaker(engine), bus=ports.bus, queue=ports.queue,
                      lock=ports.lock, limiter=ports.limiter, dedupe=ports.dedupe,
                      closers=[ports.close])
    try:
        assert await flows.requeue_unhandled(runtime, horizon_s=60) == 0
        assert await flows.requeue_unhandled(runtime, older_than_s=600) == 0
        assert await flows.requeue_unhandled(runtime) == 1
    finally:
        await ports.close()
