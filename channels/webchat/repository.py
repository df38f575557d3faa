"""Queries of the web chat channel: a session's open conversation and its history.

No table of our own: a session is its address (`webchat:<id>`) in the conversation store, and
every customer message of a session has an external id that starts with the session id, so
the (channel, external_id) unique index finds a session's conversations, closed ones too."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.webchat.parser import CHANNEL, address_of
from core.agents.models import Agent
from core.conversations.models import Conversation, Message
from core.conversations.service import open_key

# What a customer never sees: our own bookkeeping states for replies that did not go out.
NOT_SHOWN = ("failed", "suppressed")
RECENT_CONVERSATIONS = 5


async def open_conversation_id(session: AsyncSession, session_id: str) -> int | None:
    """The session's open conversation (a session never has a customer key: see identity.py)."""
    key = open_key(customer_id=None, address=address_of(session_id))
    return await session.scalar(select(Conversation.id).where(Conversation.open_key == key))


async def conversation_ids(session: AsyncSession, session_id: str) -> list[int]:
    """The session's most recent conversations, newest first, closed ones included."""
    low, high = session_id + "0" * 32, session_id + "f" * 32
    rows = await session.scalars(
        select(Message.conversation_id)
        .where(Message.channel == CHANNEL, Message.external_id >= low,
               Message.external_id <= high)
        .group_by(Message.conversation_id)
        .order_by(Message.conversation_id.desc())
        .limit(RECENT_CONVERSATIONS)
    )
    found = list(rows)
    current = await open_conversation_id(session, session_id)
    if current is not None and current not in found:
        found.insert(0, current)
    return found


async def history(session: AsyncSession, session_id: str, *, after_id: int = 0,
                  limit: int = 100) -> list[Message]:
    """The last `limit` messages the session's customer wrote or was sent, oldest first."""
    ids = await conversation_ids(session, session_id)
    if not ids:
        return []
    address = address_of(session_id)
    rows = await session.scalars(
        select(Message)
        .where(Message.conversation_id.in_(ids), Message.id > after_id,
               Message.channel == CHANNEL, Message.status.not_in(NOT_SHOWN),
               (Message.sender == address) | (Message.recipient == address))
        .order_by(Message.id.desc())
        .limit(limit)
    )
    return list(reversed(list(rows)))


async def agent_names(session: AsyncSession, conversation_ids: set[int]) -> dict[int, str]:
    """Conversation → the display name of the agent holding it, for `agent` on message frames."""
    if not conversation_ids:
        return {}
    held = {row.id: int(row.agent_id) for row in await session.execute(
        select(Conversation.id, Conversation.agent_id)
        .where(Conversation.id.in_(conversation_ids), Conversation.agent_id.is_not(None)))
        if str(row.agent_id).isdigit()}
    if not held:
        return {}
    names = {row.id: row.display_name for row in await session.execute(
        select(Agent.id, Agent.display_name).where(Agent.id.in_(set(held.values()))))}
    return {cid: names[aid] for cid, aid in held.items() if aid in names}
