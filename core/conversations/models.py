"""Conversations and their messages: the record every channel, the bot and the console share."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    and_,
    literal_column,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.db import Base, BigId, UTCDateTime

# The partial index's predicate. A query reaches such an index only if the planner can prove
# the predicate from the query's own WHERE clause, and a bound parameter proves nothing once
# PostgreSQL switches a prepared statement to its generic plan: so the queries spell the
# value as a literal (`unhandled_inbound()` below), never as a parameter.
#
# Only this one: an index on delivery `status` would make every status callback's update a
# non-HOT one (a new entry in each of the table's indexes), on the busiest write of a storm.
UNHANDLED_INBOUND_SQL = "direction = 'inbound' AND handled_at IS NULL"


class Conversation(Base):
    """One customer's open thread with the utility, whoever owns it now (bot, queue, agent)."""

    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_customer_id", "customer_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL")
    )
    # The channel and address the customer last wrote from: where a new reply goes.
    channel: Mapped[str] = mapped_column(String(12))
    address: Mapped[str] = mapped_column(String(254))
    owner: Mapped[str] = mapped_column(String(12), default="bot")
    # "customer:<id>" or "address:<addr>" while open, NULL once closed: a unique column that
    # allows many NULLs, so "one open conversation per identity" holds on SQLite and PostgreSQL
    # without partial indexes, and two first messages racing cannot open two conversations.
    open_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    language: Mapped[str] = mapped_column(String(5), default="en")
    agent_id: Mapped[str | None] = mapped_column(String(64))
    skill: Mapped[str | None] = mapped_column(String(24))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    handoff: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    bot_state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    owner_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Message(Base):
    """One message in or out. Unique on (channel, external_id): a provider retry is stored once."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("channel", "external_id"),
        Index("ix_messages_conversation_id_id", "conversation_id", "id"),
        Index("ix_messages_reply_to_id", "reply_to_id"),
        Index("ix_messages_created_at", "created_at"),
        # The small set the handler and the sweep look for among millions of handled rows:
        # customer messages not handled yet (migration 0008).
        Index("ix_messages_unhandled_inbound", "conversation_id", "id",
              postgresql_where=text(UNHANDLED_INBOUND_SQL),
              sqlite_where=text(UNHANDLED_INBOUND_SQL)),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    direction: Mapped[str] = mapped_column(String(8))  # inbound | outbound
    channel: Mapped[str] = mapped_column(String(12))
    # The provider's id (Twilio MessageSid); outbound rows get it once the provider accepts them.
    external_id: Mapped[str | None] = mapped_column(String(64))
    author: Mapped[str] = mapped_column(String(8))  # customer | bot | agent | system
    sender: Mapped[str] = mapped_column(String(254))
    recipient: Mapped[str] = mapped_column(String(254))
    # Card numbers are masked before this column is ever written (DOMAIN.md "Pay").
    body: Mapped[str] = mapped_column(Text, default="")
    media: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    quick_replies: Mapped[list[str]] = mapped_column(JSON, default=list)
    # reply | compliance (the one opt-out confirmation) | notice (proactive, from notifications)
    purpose: Mapped[str] = mapped_column(String(12), default="reply")
    status: Mapped[str] = mapped_column(String(16))
    # Order of `status` in the delivery lifecycle; updates only ever raise it (policy.py).
    status_rank: Mapped[int] = mapped_column(SmallInteger, default=0)
    error_code: Mapped[str | None] = mapped_column(String(16))
    reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    # Inbound only: "waiting" while the webhook can still answer inline, then "answered"
    # (the handler's replies ride the webhook response) or "gave_up" (they go by REST).
    inline_state: Mapped[str | None] = mapped_column(String(8))
    # Inbound only: the carrier keyword found at intake (opt_out / opt_in / help), and whether
    # the provider already answered it (Twilio Advanced Opt-Out), so we never answer twice.
    carrier_keyword: Mapped[str | None] = mapped_column(String(8))
    provider_answered: Mapped[bool] = mapped_column(Boolean, default=False)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def unhandled_inbound() -> Any:
    """UNHANDLED_INBOUND_SQL as a clause on Message, literals and all (see there why)."""
    return and_(Message.__table__.c.direction == literal_column("'inbound'"),
                Message.__table__.c.handled_at.is_(None))
