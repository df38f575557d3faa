"""The console's doorway to core.conversations: read threads, move owners, send agent replies.

The console never sends on a channel: an agent's reply is recorded by the conversation service
and queued for the channel dispatcher (core.conversations.flows.send_reply)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_console.live.log import ConsoleTx
from agent_console.routing import cards
from core.agents import repository as agents_repository
from core.agents.models import ConversationNote, QueueEntry
from core.conversations import flows, service
from core.conversations.events import OwnerChanged
from core.conversations.models import Conversation, Message
from core.conversations.schemas import Reply
from core.customers.models import Customer
from core.errors import NotFound
from core.runtime import Runtime


async def get_conversation(session: AsyncSession, conversation_id: int) -> Conversation:
    conversation = await session.get(Conversation, conversation_id, populate_existing=True)
    if conversation is None:
        raise NotFound("no such conversation", conversation_id=conversation_id)
    return conversation


async def customer_name(session: AsyncSession, customer_id: int | None) -> str | None:
    if customer_id is None:
        return None
    customer = await session.get(Customer, customer_id)
    return customer.display_name if customer else None


def message_view(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "direction": message.direction,
        "author": message.author,
        "channel": message.channel,
        "body": message.body,
        "media": [m.get("url") for m in message.media or ()],
        "status": message.status,
        "at": message.created_at.isoformat(),
    }


async def transcript(session: AsyncSession, conversation_id: int, *,
                     limit: int = 500) -> list[dict[str, Any]]:
    """The whole thread, bot turns included, oldest first (the agent reads what the bot did)."""
    rows = await session.scalars(
        select(Message).where(Message.conversation_id == conversation_id)
        .order_by(Message.id.desc()).limit(limit)
    )
    return [message_view(m) for m in reversed(list(rows))]


async def messages_by_id(session: AsyncSession, ids: list[int]) -> list[Message]:
    if not ids:
        return []
    return list(await session.scalars(select(Message).where(Message.id.in_(ids))
                                      .order_by(Message.id)))


async def card(session: AsyncSession, conversation: Conversation) -> dict[str, Any]:
    """What the console shows about a conversation before opening it (offers, lists)."""
    handoff = conversation.handoff or {}
    return {
        "conversation_id": conversation.id,
        "channel": conversation.channel,
        "address": conversation.address,
        "customer_id": conversation.customer_id,
        "customer_name": await customer_name(session, conversation.customer_id),
        "language": conversation.language,
        "owner": conversation.owner,
        "skill": conversation.skill,
        "handoff": {
            "reason": handoff.get("reason"),
            "skill": handoff.get("skill"),
            "priority": handoff.get("priority"),
            "summary": handoff.get("summary") or {},
        },
        "opened_at": conversation.opened_at.isoformat(),
        "last_message_at": conversation.last_message_at.isoformat(),
    }


async def move(tx: ConsoleTx, *, conversation_id: int, to: str, reason: str,
               agent_id: int | None = None) -> str:
    """Change the owner through the conversation service (its state machine decides)."""
    previous = await service.transition(
        tx.session, conversation_id=conversation_id, to=to, reason=reason,
        agent_id=str(agent_id) if agent_id is not None else None,
    )
    tx.publish_after(OwnerChanged(conversation_id=conversation_id, previous=previous, owner=to,
                                  reason=reason))
    return previous


async def send_agent_reply(runtime: Runtime, *, conversation_id: int, text: str) -> list[int]:
    """Stored, then queued for the customer's channel; returns the stored message ids."""
    return await flows.send_reply(runtime, conversation_id=conversation_id,
                                  reply=Reply(text=text), author="agent")


async def link_customer(tx: ConsoleTx, *, conversation_id: int, customer_id: int) -> None:
    await service.link_customer(tx.session, conversation_id=conversation_id,
                                customer_id=customer_id)


async def notes(session: AsyncSession, conversation_id: int) -> list[dict[str, Any]]:
    rows = await session.scalars(select(ConversationNote)
                                 .where(ConversationNote.conversation_id == conversation_id)
                                 .order_by(ConversationNote.id))
    return [{"note_id": n.id, "agent_id": n.agent_id, "body": n.body,
             "at": n.created_at.isoformat()} for n in rows]


async def detail(session: AsyncSession, *, conversation_id: int) -> dict[str, Any]:
    """Everything the agent needs beside the reply box: the card (with the bot's hand-off
    summary), the transcript including the bot's turns, internal notes, and who holds it."""
    conversation = await get_conversation(session, conversation_id)
    assignment = await agents_repository.live_assignment(session,
                                                         conversation_id=conversation_id)
    entry = await session.scalar(select(QueueEntry)
                                 .where(QueueEntry.conversation_id == conversation_id)
                                 .order_by(QueueEntry.id.desc()).limit(1))
    return {
        **await card(session, conversation),
        "transcript": await transcript(session, conversation_id),
        "notes": await notes(session, conversation_id),
        "assignment": cards.assignment_card(assignment) if assignment else None,
        "entry": cards.entry_card(entry) if entry else None,
    }
