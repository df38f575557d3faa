"""The call itself as a line in the conversation: who called, and how the call went.

A call is stored as one system message keyed by its CallSid (the messages table is unique on
channel + external id, so the incoming-call webhook and its retries store it once), already
marked handled so the bot never answers it. Twilio's call status callbacks then move its
status forward only: they come more than once and out of order, and a late "ringing" must
not undo "completed". The agent sees "Phone call, completed, 184 s" in the transcript.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from channels.twilio_voice.parser import call_sid, caller_address
from core.clock import utcnow
from core.conversations import repository, service
from core.conversations.models import Conversation, Message
from core.conversations.schemas import InboundMessage
from core.customers.models import Customer

# Twilio's call lifecycle, in the order it can only move.
CALL_RANK: dict[str, int] = {
    "queued": 1, "initiated": 1, "ringing": 2, "in-progress": 3, "answered": 3,
    "completed": 4, "busy": 4, "failed": 4, "no-answer": 4, "canceled": 4,
}
FINAL = frozenset(s for s, rank in CALL_RANK.items() if rank == 4)
CALL_PURPOSE = "call"


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is on the line, as far as caller ID tells: enough to greet them."""

    conversation_id: int
    address: str
    customer_id: int | None
    first_name: str | None
    language: str


async def open_call(session: AsyncSession, *, form: Mapping[str, str],
                    region: str = "US") -> Caller:
    """Find the caller by caller ID, file the call in their open conversation (opening one if
    needed), and record the call once. Flushes; the caller's unit of work commits."""
    sid = call_sid(form)
    address = caller_address(form, region=region)
    # Signed by Twilio, but still bound for bounded columns: a NUL or an overlong value
    # would be a PostgreSQL 500, and an unknown status is recorded as the call ringing.
    recipient = form.get("To", "").replace("\x00", "")[:254]
    probe = InboundMessage(channel="voice", external_id=sid, sender=address,
                           recipient=recipient)
    identity, conversation = await service.find_or_open(session, probe)
    status = str(form.get("CallStatus") or "ringing").lower()
    status = status if status in CALL_RANK else "ringing"
    now = utcnow()
    created = await repository.insert_ignoring_conflict(session, Message, {
        "conversation_id": conversation.id, "direction": "inbound", "channel": "voice",
        "external_id": sid, "author": "system", "sender": address,
        "recipient": recipient, "body": _describe(status, None), "media": [],
        "quick_replies": [], "purpose": CALL_PURPOSE, "status": status[:16],
        "status_rank": CALL_RANK.get(status, 1), "created_at": now, "status_at": now,
        # Handled from the start: a call is not something for the bot to answer.
        "handled_at": now,
    }, conflict=("channel", "external_id"))
    if created is not None:
        conversation.channel, conversation.address = "voice", address
        conversation.last_message_at = now
    first_name = None
    if conversation.customer_id is not None:
        customer = await session.get(Customer, conversation.customer_id)
        first_name = customer.first_name if customer else None
    state_language = (conversation.bot_state or {}).get("language")
    await session.flush()
    return Caller(conversation_id=conversation.id, address=address,
                  customer_id=conversation.customer_id, first_name=first_name,
                  language=state_language or identity.language or conversation.language)


async def record_call_status(session: AsyncSession, *, form: Mapping[str, str],
                             region: str = "US") -> bool:
    """Apply a call status callback if it moves the call forward; True if it did. A callback
    for a call we never answered (it failed before reaching us) files the call first."""
    sid = call_sid(form)
    status = str(form.get("CallStatus") or "").lower()
    if status not in CALL_RANK:
        return False
    if await repository.message_by_external_id(session, "voice", sid) is None:
        await open_call(session, form={**form, "CallStatus": "queued"}, region=region)
    duration = _seconds(form.get("CallDuration"))
    result = await session.execute(
        update(Message)
        .where(Message.channel == "voice", Message.external_id == sid,
               Message.status_rank < CALL_RANK[status])
        .values(status=status, status_rank=CALL_RANK[status], status_at=utcnow(),
                body=_describe(status, duration))
        .execution_options(synchronize_session=False))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def conversation_of_call(session: AsyncSession, sid: str) -> Conversation | None:
    record = await repository.message_by_external_id(session, "voice", sid)
    if record is None:
        return None
    return await session.get(Conversation, record.conversation_id, populate_existing=True)


def _describe(status: str, duration_s: int | None) -> str:
    if status in FINAL:
        return f"Phone call, {status}" + (f", {duration_s} s" if duration_s is not None else "")
    return "Phone call"


def _seconds(raw: str | None) -> int | None:
    try:
        return int(raw) if raw else None
    except ValueError:
        return None
