"""The people at the console and the routing state every API process shares through the database.

Conversation ids are plain columns here, not foreign keys: the conversations tables come from a
sibling migration, and a later one may add the constraints once both have landed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.db import Base, BigId, UTCDateTime


class Agent(Base):
    """A customer accounts specialist, supervisor or admin who signs in to the console."""

    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(80))
    password_hash: Mapped[str] = mapped_column(String(200))  # argon2id, never the password
    role: Mapped[str] = mapped_column(String(16), default="agent")  # agent|supervisor|admin
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    capacity: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)  # channel -> at once
    presence: Mapped[str] = mapped_column(String(12), default="offline")
    presence_since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Longest-idle routing orders eligible agents by this: when they last got or finished work.
    idle_since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class QueueEntry(Base):
    """A conversation waiting for a person in one skill's queue (one live entry at a time)."""

    __tablename__ = "queue_entries"
    __table_args__ = (Index("ix_queue_entries_state_priority", "state", "priority"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(BigInteger, index=True)
    # conversation id while waiting/offered, NULL after: "one live entry per conversation" as a
    # unique column that allows many NULLs (same trick as conversations.open_key).
    live_key: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    skill: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(12))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(12), default="waiting")
    enqueued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    first_response_due: Mapped[datetime] = mapped_column(UTCDateTime)
    sla_breached: Mapped[bool] = mapped_column(Boolean, default=False)
    # Transfers: who sent it here, to whom (None: anyone with the skill), and why.
    target_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    transferred_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    transfer_note: Mapped[str | None] = mapped_column(String(500))
    # Agents who declined or let this entry's offer lapse; offered again only when all have.
    passed_agent_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    offers_made: Mapped[int] = mapped_column(Integer, default=0)
    callback_number: Mapped[str | None] = mapped_column(String(32))
    customer_note: Mapped[str | None] = mapped_column(String(1000))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handled_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))


class Offer(Base):
    """A queue entry reserved for one agent until they accept, decline, or the offer lapses."""

    __tablename__ = "offers"
    __table_args__ = (Index("ix_offers_outcome_expires_at", "outcome", "expires_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("queue_entries.id"), index=True)
    conversation_id: Mapped[int] = mapped_column(BigInteger)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), index=True)
    channel: Mapped[str] = mapped_column(String(12))
    offered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(String(12), default="pending")
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Assignment(Base):
    """An agent's hold on a conversation, from accept through wrap-up."""

    __tablename__ = "assignments"
    __table_args__ = (Index("ix_assignments_agent_id_state", "agent_id", "state"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(BigInteger, index=True)
    # conversation id while active or wrapping up, NULL after: one holder per conversation.
    live_key: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("queue_entries.id"))
    skill: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(12))
    state: Mapped[str] = mapped_column(String(12), default="active")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # First response is owed from when the customer joined the queue (copied from the entry).
    first_response_due: Mapped[datetime] = mapped_column(UTCDateTime)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_response_breached: Mapped[bool] = mapped_column(Boolean, default=False)
    resolution_due: Mapped[datetime] = mapped_column(UTCDateTime)
    resolution_breached: Mapped[bool] = mapped_column(Boolean, default=False)
    wrap_up_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    wrap_up_due: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disposition: Mapped[str | None] = mapped_column(String(32))
    wrap_up_notes: Mapped[str | None] = mapped_column(Text)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ConversationNote(Base):
    """An internal note on a conversation: seen by agents and supervisors, never the customer."""

    __tablename__ = "conversation_notes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(BigInteger, index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CannedResponse(Base):
    """A reply template for one queue (or every queue) with {placeholders} filled at use."""

    __tablename__ = "canned_responses"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    skill: Mapped[str | None] = mapped_column(String(16), index=True)  # None: every queue
    shortcut: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(80))
    body: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(5), default="en")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Disposition(Base):
    """A wrap-up code: why the conversation ended, for reporting."""

    __tablename__ = "dispositions"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    label: Mapped[str] = mapped_column(String(80))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ConsoleEvent(Base):
    """The console's event log: ids are commit-ordered and gapless, so a reconnecting agent
    that sends its last id gets exactly what it missed."""

    __tablename__ = "console_events"
    __table_args__ = (Index("ix_console_events_audience_id", "audience", "id"),)

    # Assigned from console_event_counter under its row lock, never by an autoincrement.
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    audience: Mapped[str] = mapped_column(String(40))  # agent:<id> | skill:<s> | supervisors | all
    kind: Mapped[str] = mapped_column(String(32))
    conversation_id: Mapped[int | None] = mapped_column(BigInteger)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class ConsoleEventCounter(Base):
    """One row: the last event id handed out. Its row lock orders event ids by commit."""

    __tablename__ = "console_event_counter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_id: Mapped[int] = mapped_column(BigInteger, default=0)


class ConsoleFlag(Base):
    """Small shared switches the console owns until their domain does (e.g. storm mode)."""

    __tablename__ = "console_flags"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    changed_by: Mapped[str | None] = mapped_column(String(80))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AccountNote(Base):
    """A note an agent leaves on an account (the next specialist reads it first)."""

    __tablename__ = "account_notes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    conversation_id: Mapped[int | None] = mapped_column(BigInteger)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
