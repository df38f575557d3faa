"""The bot seam: what the pipeline needs from the conversational brain, as a protocol.

The bot layer implements it; the composition root puts one in `runtime.extras["responder"]`.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from core.conversations.schemas import BotOutcome, Turn


class Responder(Protocol):
    """Answers one inbound turn of a conversation the bot owns (or that waits in the queue).

    How to implement: read and write core data through `session` (flush, never commit: the
    pipeline commits the replies, the new state and your changes together, once); return
    the replies in the order to send them; return `state` to save slots for the next turn;
    ask for a hand-off instead of trying to answer what needs a person. Be quick: the inline
    SMS answer waits for you (a couple of seconds at most) before falling back to REST."""

    async def respond(self, session: AsyncSession, turn: Turn) -> BotOutcome: ...
