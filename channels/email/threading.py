"""Email threads: Message-ID, In-Reply-To and References tie a reply to what it answers.

No table of our own: every stored email message, in or out, keeps its Message-ID as the
message's `external_id` (unique per channel already), so "which conversation does this reply
belong to" is a lookup of In-Reply-To / References among external ids.

Filing stays the pipeline's: a reply from the same customer lands in their open conversation
by identity. A thread id that points at another identity's conversation is only reported,
never followed: a forwarded thread must not give a stranger the verified conversation (and
the account details in it) of the person who forwarded it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.conversations.models import Message

CHANNEL = "email"
# messages.external_id holds 64 characters; Outlook's Message-IDs alone run past 80.
EXTERNAL_ID_MAX = 64
# Enough ancestors for every client to thread; RFC 5322 suggests trimming from the middle.
MAX_REFERENCES = 12

# What clients put before a subject they answer or forward, in the languages we see most.
_REPLY_PREFIX = re.compile(
    r"^\s*(?:(?:re|aw|sv|vs|rv|r|ref|antw|fw|fwd|tr|wg)\s*(?:\[\d+\])?\s*:\s*)+", re.IGNORECASE)


def external_id_for(message_id: str) -> str:
    """The messages.external_id for a Message-ID: itself when it fits, else a digest of it,
    computed the same way for storing and for looking up, so both always agree."""
    if len(message_id) <= EXTERNAL_ID_MAX:
        return message_id
    return "<" + hashlib.sha256(message_id.encode()).hexdigest()[:48] + "@sha256>"


def new_message_id(domain: str) -> str:
    """Our own Message-ID for an outbound reply: random, short enough to store as is."""
    return f"<sd.{secrets.token_hex(12)}@{domain}>"


def reply_subject(subject: str, *, fallback: str) -> str:
    """"Re: " once, whatever prefixes clients piled up ("RE: AW: Fwd:"), as Gmail threads by
    subject as well as by References."""
    core = _REPLY_PREFIX.sub("", subject or "").strip()
    return f"Re: {core}" if core else fallback


@dataclass(frozen=True, slots=True)
class ThreadHeaders:
    """The headers that put a reply in the customer's thread."""

    in_reply_to: str | None
    references: tuple[str, ...]
    subject: str


def reply_headers(*, parent_id: str | None, parent_references: tuple[str, ...],
                  parent_subject: str | None, fallback_subject: str) -> ThreadHeaders:
    """In-Reply-To the parent; References = the parent's References plus the parent, trimmed
    from the middle (the thread root stays first)."""
    if parent_id is None:
        return ThreadHeaders(None, (), fallback_subject)
    chain = [*dict.fromkeys(r for r in parent_references if r != parent_id), parent_id]
    if len(chain) > MAX_REFERENCES:
        chain = [chain[0], *chain[-(MAX_REFERENCES - 1):]]
    return ThreadHeaders(parent_id, tuple(chain),
                         reply_subject(parent_subject or "", fallback=fallback_subject))


async def thread_conversation(session: AsyncSession, thread_ids: tuple[str, ...]) -> int | None:
    """The conversation of the nearest stored message this email answers, if any."""
    if not thread_ids:
        return None
    keys = [external_id_for(mid) for mid in thread_ids]
    rows = (await session.execute(
        select(Message.external_id, Message.conversation_id)
        .where(Message.channel == CHANNEL, Message.external_id.in_(keys))
    )).all()
    found = {row.external_id: row.conversation_id for row in rows}
    for key in keys:  # nearest first: In-Reply-To, then newest References
        if key in found:
            return found[key]
    return None


async def outbound_by_message_id(session: AsyncSession, message_id: str) -> Message | None:
    """One of our sent messages by its Message-ID (a bounce names it)."""
    return await session.scalar(
        select(Message).where(Message.channel == CHANNEL, Message.direction == "outbound",
                              Message.external_id == external_id_for(message_id))
    )


async def parent_of(session: AsyncSession, outbound: Message) -> Message | None:
    """What a reply answers: the inbound it was written for, else the latest email of the
    conversation that has a Message-ID (ours or the customer's)."""
    if outbound.reply_to_id is not None:
        parent = await session.get(Message, outbound.reply_to_id)
        if parent is not None and parent.channel == CHANNEL and parent.external_id:
            return parent
    return await session.scalar(
        select(Message)
        .where(Message.conversation_id == outbound.conversation_id, Message.channel == CHANNEL,
               Message.id < outbound.id, Message.external_id.is_not(None))
        .order_by(Message.id.desc())
        .limit(1)
    )
