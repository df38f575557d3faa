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
)
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.db import Base, BigId, UTCDateTime


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
