"""One customer turn as the bot sees it, and what the bot gives back.

Hand-offs use the pipeline's own `Handoff` type, so the agent console reads one shape.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.replies import Reply
from bot.state import DialogueState
from core.config import Settings
from core.conversations.schemas import Handoff

# (conversation_id, skill, priority) → (position in queue, expected wait in minutes)
QueueEstimate = Callable[[int, str, int], Awaitable[tuple[int, int]]]


@dataclass
class Turn:
    conversation_id: int
    channel: str
    address: str  # the sender: E.164 phone, email, or a web chat session id
    text: str
    session: AsyncSession
    settings: Settings
    now: datetime
    state: DialogueState
    customer_id: int | None = None
    had_card_number: bool = False
    storm_mode: bool = False
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class BotResult:
    replies: list[Reply] = field(default_factory=list)
    handoff: Handoff | None = None
    intent: str | None = None
    confidence: float = 0.0
    # Domain events the flows produced (already flushed); the caller publishes after commit.
    events: list[Any] = field(default_factory=list)
