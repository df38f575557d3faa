"""A chat customer who proves who they are is tied to their account.

Web chat has no caller ID: until the bot verifies the customer (account number, ZIP and last
name), the conversation belongs to an anonymous session. Once the bot's state says
`verified`, the conversation's customer is set, so the agent who takes it sees the account.

Not `core.conversations.service.link_customer`: that also moves the conversation's open key
to the customer's, and core resolves a session address (`webchat:<id>`) to no customer, so
the session's next message would open a second conversation. Here the open key stays the
session's; only the customer is set, and only if none was."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.state import DialogueState
from channels.webchat.parser import CHANNEL
from core.accounts.models import Account
from core.conversations.events import ReplyRecorded
from core.conversations.models import Conversation
from core.db import unit_of_work
from core.runtime import Runtime

log = logging.getLogger(__name__)


async def tie_verified_customer(session: AsyncSession, *, conversation_id: int) -> int | None:
    """Set the conversation's customer from the bot's verified account; the customer id if
    this call tied it."""
    row = (await session.execute(
        select(Conversation.customer_id, Conversation.bot_state, Conversation.channel)
        .where(Conversation.id == conversation_id))).one_or_none()
    if row is None or row.customer_id is not None or row.channel != CHANNEL:
        return None
    state = DialogueState.from_json(row.bot_state)
    if state.verification != "verified" or not state.verified_account_id:
        return None
    customer_id = await session.scalar(
        select(Account.customer_id).where(Account.id == state.verified_account_id))
    if customer_id is None:
        return None
    tied = await session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.customer_id.is_(None))
        .values(customer_id=customer_id).execution_options(synchronize_session=False))
    return customer_id if tied.rowcount == 1 else None  # type: ignore[attr-defined]


async def on_reply_recorded(runtime: Runtime, payload: dict[str, Any]) -> None:
    """The bot answered a chat: if that answer came after a verification, tie the customer.

    Every API process hears the event; the shared Dedupe port lets one of them do the work."""
    event = ReplyRecorded.from_payload(payload)
    if event.channel != CHANNEL or event.author != "bot":
        return
    if not await runtime.dedupe.first_time(f"webchat:tie:{event.message_id}", ttl_s=3600):
        return
    async with unit_of_work(runtime.sessions) as session:
        customer_id = await tie_verified_customer(session, conversation_id=event.conversation_id)
    if customer_id is not None:
        log.info("web chat conversation %s tied to customer %s after verification",
                 event.conversation_id, customer_id)
