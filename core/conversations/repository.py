"""Queries of the conversation domain; nothing here commits."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    Boolean,
    Select,
    String,
    TextClause,
    TextualSelect,
    bindparam,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.conversations.models import UNHANDLED_INBOUND_SQL, Conversation, Message
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


def _insert_message_sql() -> TextClause:
    columns = [c for c in Message.__table__.columns if c.name != "id"]
    names = ", ".join(c.name for c in columns)
    params = ", ".join(f":{c.name}" for c in columns)
    return text(
        f"INSERT INTO messages ({names}) VALUES ({params}) "
        "ON CONFLICT (channel, external_id) DO NOTHING RETURNING id"
    ).bindparams(*(bindparam(c.name, type_=c.type) for c in columns))


# SQLAlchemy does not cache the compiled form of a dialect INSERT … ON CONFLICT (its PG
# Insert opts out of the statement cache), so the hottest insert of the webhook would be
# compiled on every message. The same SQL is valid on SQLite and PostgreSQL, so it is
# written once here, typed through the model's columns (JSON, UTC datetimes).
_INSERT_MESSAGE = _insert_message_sql()


async def insert_message_once(session: AsyncSession, values: Mapping[str, Any]) -> int | None:
    """Insert a message and return its id, or None if (channel, external_id) exists."""
    row = {c.name: values.get(c.name) for c in Message.__table__.columns if c.name != "id"}
    return (await session.execute(_INSERT_MESSAGE, row)).scalar_one_or_none()


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


def _store_in_open_conversation_sql() -> TextualSelect:
    """PostgreSQL only (a data-modifying CTE): identify the sender, find their open
    conversation, insert the message once and touch the conversation, in one statement.

    `who` always yields one row: the customer when the contact names exactly one, else NULL
    (then the conversation is the address's, as `service.open_key` builds it). No row from
    `ins` with a conversation found means the message was stored before (a repeat); no
    conversation at all means one has to be opened first: the caller takes the full path.

    It also returns what handling reads of the conversation, and whether an older message of
    it waits unhandled (`older_waiting`; the snapshot cannot see the row `ins` writes): with
    none, the handler can start from this row instead of reading it again under the lock
    (flows.handle_next checks it is still so when it marks the message handled)."""
    c = Message.__table__.c
    return text(f"""
        WITH who AS (
            SELECT CASE WHEN count(DISTINCT customer_id) = 1 THEN min(customer_id) END
                   AS customer_id
            FROM contacts WHERE kind = :kind AND value = :value
        ), conv AS (
            SELECT conversations.id, conversations.customer_id, conversations.owner,
                   conversations.bot_state, conversations.language
            FROM conversations, who
            WHERE conversations.open_key
                  = COALESCE('customer:' || who.customer_id::text, :address_key)
        ), ins AS (
            INSERT INTO messages (conversation_id, direction, channel, external_id, author,
                                  sender, recipient, body, media, quick_replies, purpose,
                                  status, status_rank, inline_state, provider_answered,
                                  created_at, status_at)
            SELECT conv.id, 'inbound', :channel, :external_id, 'customer', :sender,
                   :recipient, :body, :media, :quick_replies, 'reply', 'received', :rank,
                   :inline_state, :provider_answered, :now, :now
            FROM conv
            ON CONFLICT (channel, external_id) DO NOTHING
            RETURNING id, conversation_id
        ), touch AS (
            UPDATE conversations SET last_message_at = :now, channel = :channel,
                                     address = :sender
            FROM ins WHERE conversations.id = ins.conversation_id
        )
        SELECT ins.id AS message_id, conv.id AS conversation_id, conv.customer_id, conv.owner,
               conv.bot_state, conv.language, EXISTS (
                   SELECT 1 FROM messages
                   WHERE messages.conversation_id = conv.id AND {UNHANDLED_INBOUND_SQL}
               ) AS older_waiting
        FROM conv LEFT JOIN ins ON true
    """).bindparams(
        bindparam("media", type_=c.media.type), bindparam("quick_replies", type_=c.media.type),
        bindparam("now", type_=c.created_at.type), bindparam("rank", type_=c.status_rank.type),
        bindparam("provider_answered", type_=c.provider_answered.type),
        *(bindparam(name, type_=String()) for name in (
            "kind", "value", "address_key", "channel", "external_id", "sender", "recipient",
            "body", "inline_state")),
    ).columns(message_id=c.id.type, conversation_id=c.id.type,
              customer_id=Conversation.__table__.c.customer_id.type, owner=String(),
              bot_state=Conversation.__table__.c.bot_state.type, language=String(),
              older_waiting=Boolean())


STORE_IN_OPEN_CONVERSATION = _store_in_open_conversation_sql()


def _mark_handled_with_replies_sql() -> TextualSelect:
    """PostgreSQL only: the bot's state, the handled mark and the replies in one statement
    (see service.mark_handled_with_replies). The mark is conditional, so a second handler
    writes nothing: with no `mark` row, `decided` is empty and the state update matches no
    row. The consent check is the same as compliance.opted_out, at the moment of writing.

    With `guard` (the handler read the message before it took the lock, from the store
    statement), the mark also requires that the conversation is still as it read it and that
    no older message waits: otherwise nothing is written and the handler reads again. (A turn
    that changed the conversation itself, a hand-off say, fails the guard too and is redone;
    that is rare, and the redo is the ordinary path.)"""
    c = Message.__table__.c
    return text(f"""
        WITH mark AS (
            UPDATE messages SET handled_at = :now, inline_state = CASE
                    WHEN inline_state = 'waiting' AND created_at > :fresh_after
                        THEN 'answered'
                    WHEN inline_state = 'waiting' THEN 'gave_up'
                    ELSE inline_state END
            WHERE id = :message AND handled_at IS NULL AND (NOT :guard OR (EXISTS (
                    SELECT 1 FROM conversations
                    WHERE id = :conversation AND owner = :seen_owner
                      AND customer_id IS NOT DISTINCT FROM :seen_customer
                      AND language = :seen_language
                      AND bot_state::jsonb IS NOT DISTINCT FROM CAST(:seen_state AS jsonb))
                AND NOT EXISTS (  -- this FROM's messages, not the updated row
                    SELECT 1 FROM messages
                    WHERE messages.conversation_id = :conversation AND messages.id < :message
                      AND {UNHANDLED_INBOUND_SQL})))
            RETURNING inline_state, EXISTS (
                SELECT 1 FROM opt_outs
                WHERE opt_outs.address = messages.sender AND opt_outs.opted_out) AS opted_out
        ), saved_state AS (
            UPDATE conversations SET bot_state = :state
            WHERE id = :conversation AND :save_state AND EXISTS (SELECT 1 FROM mark)
        ), decided AS (
            SELECT piece.*, CASE
                    WHEN mark.inline_state IS DISTINCT FROM 'answered' THEN 'pending'
                    WHEN NOT :hand_over THEN 'held'
                    WHEN mark.opted_out AND piece.purpose <> 'compliance' THEN 'suppressed'
                    ELSE 'queued' END AS status
            FROM mark, json_to_recordset(:pieces) AS piece(
                ord int, body text, media json, quick_replies json, purpose text, author text)
        ), stored AS (
            INSERT INTO messages (conversation_id, direction, channel, author, sender,
                                  recipient, body, media, quick_replies, purpose, status,
                                  status_rank, reply_to_id, provider_answered, created_at,
                                  status_at)
            SELECT :conversation, 'outbound', :channel, author, :sender, :recipient, body,
                   media, quick_replies, purpose, status, CASE status
                        WHEN 'pending' THEN :rank_pending WHEN 'held' THEN :rank_held
                        WHEN 'queued' THEN :rank_queued ELSE :rank_suppressed END,
                   :message, false, :now, :now
            FROM decided ORDER BY ord
            RETURNING messages.*
        )
        SELECT mark.inline_state AS marked_state, mark.opted_out, stored.*
        FROM mark LEFT JOIN stored ON true
    """).bindparams(
        bindparam("pieces", type_=c.media.type), bindparam("state", type_=c.media.type),
        bindparam("now", type_=c.created_at.type),
        bindparam("fresh_after", type_=c.created_at.type),
        bindparam("save_state", type_=Boolean()), bindparam("hand_over", type_=Boolean()),
        bindparam("guard", type_=Boolean()), bindparam("seen_state", type_=c.media.type),
        bindparam("seen_customer", type_=Conversation.__table__.c.customer_id.type),
        *(bindparam(name, type_=String()) for name in ("seen_owner", "seen_language")),
        *(bindparam(name, type_=c.status_rank.type) for name in (
            "rank_pending", "rank_held", "rank_queued", "rank_suppressed")),
        *(bindparam(name, type_=String()) for name in ("channel", "sender", "recipient")),
        bindparam("message", type_=c.id.type), bindparam("conversation", type_=c.id.type),
    ).columns(*c, marked_state=String(), opted_out=Boolean())


MARK_HANDLED_WITH_REPLIES = _mark_handled_with_replies_sql()
