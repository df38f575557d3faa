"""Facts the conversation domain announces after commit (STYLE 6); listeners are `on_<event>`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from core.events import DomainEvent


@dataclass(frozen=True, kw_only=True)
class MessageReceived(DomainEvent):
    """A customer's message is stored: nothing is lost after this (ARCHITECTURE step 2)."""

    topic: ClassVar[str] = "conversations.message_received"
    conversation_id: int
    message_id: int
    channel: str
    customer_id: int | None
    owner: str


@dataclass(frozen=True, kw_only=True)
class ReplyRecorded(DomainEvent):
    """The bot, an agent or the system stored a message for the customer."""

    topic: ClassVar[str] = "conversations.reply_recorded"
    conversation_id: int
    message_id: int
    author: str
    channel: str


@dataclass(frozen=True, kw_only=True)
class OwnerChanged(DomainEvent):
    topic: ClassVar[str] = "conversations.owner_changed"
    conversation_id: int
    previous: str
    owner: str
    reason: str
    skill: str | None = None


@dataclass(frozen=True, kw_only=True)
class DeliveryStatusChanged(DomainEvent):
    topic: ClassVar[str] = "conversations.delivery_status"
    conversation_id: int
    message_id: int
    status: str
    error_code: str | None = None


@dataclass(frozen=True, kw_only=True)
class ConsentChanged(DomainEvent):
    """A carrier keyword changed whether we may text this address."""

    topic: ClassVar[str] = "consent.changed"
    address: str
    opted_out: bool
    keyword: str
