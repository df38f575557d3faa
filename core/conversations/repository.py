"""Queries of the conversation domain; nothing here commits."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.conversations.models import Conversation, Message
from core.customers.models import Contact


def _insert(session: AsyncSession, model: type[Any]) -> Any:
    dialect = session.get_bind().dialect.name
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(model)


async def upsert(session: AsyncSession, model: type[Any], values: Mapping[str, Any], *,
                 conflict: Sequence[str], update: Sequence[str]) -> None:
    """INSERT … ON CONFLICT DO UPDATE: one statement, no read-then-write race (both DBs)."""
    stmt = _insert(session, model).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(conflict), set_={k: stmt.excluded[k] for k in update}
    )
    await session.execute(stmt)


async def insert_ignoring_conflict(session: AsyncSession, model: type[Any],
                                   values: Mapping[str, Any], *,
                                   conflict: Sequence[str]) -> int | None:
    """Insert and return the new id, or None when the unique key already exists."""
    stmt = (_insert(session, model).values(**values)
            .on_conflict_do_nothing(index_elements=list(conflict))
            .returning(model.id))
    return (await session.execute(stmt)).scalar_one_or_none()


async def message_by_external_id(session: AsyncSession, channel: str,
                                 external_id: str) -> Message | None:
    return await session.scalar(
        select(Message).where(Message.channel == channel, Message.external_id == external_id)
    )


async def customers_for_address(session: AsyncSession, *, kind: str, value: str) -> list[int]:
    rows = await session.scalars(
        select(Contact.customer_id).where(Contact.kind == kind, Contact.value == value).distinct()
    )
    return list(rows)


async def open_conversation(session: AsyncSession, open_key: str) -> Conversation | None:
    return await session.scalar(select(Conversation).where(Conversation.open_key == open_key))


async def unhandled_inbound_ids(session: AsyncSession, conversation_id: int,
                                limit: int = 20) -> list[int]:
    """The conversation's inbound messages not yet handled, oldest first: the handling order."""
    rows = await session.scalars(
        select(Message.id)
        .where(Message.conversation_id == conversation_id, Message.direction == "inbound",
               Message.handled_at.is_(None))
        .order_by(Message.id)
        .limit(limit)
    )
    return list(rows)


def replies_to(inbound_id: int) -> Select[tuple[Message]]:
    return select(Message).where(Message.reply_to_id == inbound_id).order_by(Message.id)


async def thread(session: AsyncSession, conversation_ids: Iterable[int], *,
                 after_id: int = 0, limit: int = 200) -> list[Message]:
    rows = await session.scalars(
        select(Message)
        .where(Message.conversation_id.in_(list(conversation_ids)), Message.id > after_id)
        .order_by(Message.id)
        .limit(limit)
    )
    return list(rows)


async def compare_and_set_status(session: AsyncSession, message_id: int, *,
                                 expected: Sequence[str], new: str, rank: int,
                                 **values: Any) -> bool:
    """Move a message from one of `expected` to `new`; True if this caller won the race."""
    result = await session.execute(
        update(Message)
        .where(Message.id == message_id, Message.status.in_(list(expected)))
        .values(status=new, status_rank=rank, **values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]
