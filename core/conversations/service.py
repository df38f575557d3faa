"""The verbs of the conversation domain: take a message in once, record a reply, hand over,
track delivery. Services flush; the caller's unit of work commits (STYLE 8)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, String, bindparam, cast, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core.clock import utcnow
from core.conversations import compliance, repository
from core.conversations.compliance import CarrierKeyword
from core.conversations.models import Conversation, Message
from core.conversations.policy import Direction, Owner, ensure_transition, status_rank
from core.conversations.schemas import Handoff, InboundMessage, PendingMessage, Reply
from core.conversations.segments import smart_encode, split_message
from core.customers.models import Contact
from core.db import autocommit, rows_at_once
from core.errors import NotFound
from core.pii import mask_card_numbers

TEXT_CHANNELS = frozenset({"sms", "whatsapp"})


@dataclass(frozen=True, slots=True)
class Intake:
    """What `receive` did: `created` is False for a repeat delivery of a stored message."""

    message_id: int
    conversation_id: int
    customer_id: int | None
    owner: str
    created: bool
    keyword: CarrierKeyword | None = None
    # The message as handling reads it, when the store statement could tell (nothing older
    # of the conversation waiting): the handler starts from it (flows.handle_next).
    pending: PendingMessage | None = None


@dataclass(frozen=True, slots=True)
class Identity:
    customer_id: int | None
    language: str = "en"


def _contact_key(inbound: InboundMessage) -> tuple[str, str] | None:
    phone = inbound.sender_phone
    if phone is not None:
        return "phone", phone
    if "@" in inbound.sender:
        return "email", inbound.sender.strip().lower()
    return None


# The hot path's statements are built once, with bind parameters: SQLAlchemy memoizes a
# statement's cache key on the object, so executing a prebuilt one skips the key's traversal
# and costs about half the client CPU of building it afresh per message (~140 us less per
# statement on PostgreSQL, measured with a prebuilt vs a fresh ORM select and update).
# The same key as open_key() builds, computed in SQL so the conversation joins in.
_CUSTOMER_KEY = literal("customer:", String) + cast(Contact.customer_id, String)
_IDENTIFY = (select(Contact.customer_id, Contact.language, Conversation)
             .outerjoin(Conversation, Conversation.open_key == _CUSTOMER_KEY)
             .where(Contact.kind == bindparam("kind"), Contact.value == bindparam("value")))
_conversations = Conversation.__table__
# Core, on the table: nothing in the transaction reads the object's new values, and the
# ORM's bulk-update path costs more than the statement.
_TOUCH = (update(_conversations).where(_conversations.c.id == bindparam("conversation"))
          .values(last_message_at=bindparam("at"), channel=bindparam("new_channel"),
                  address=bindparam("new_address")))
# Core rows, not ORM objects: a reply is written once and only read afterwards (ids, views,
# the inline hand-over), and building an ORM object per row was a third of a bot turn's
# statement CPU. The rows carry every column under the model's names.
_messages = Message.__table__
_INSERT_ONE = insert(_messages).returning(*_messages.c)
_INSERT_MANY = insert(_messages).returning(*_messages.c, sort_by_parameter_order=True)


def _one_customer(rows: Sequence[Any]) -> Identity:
    customers = {row.customer_id for row in rows}
    if len(customers) != 1:
        return Identity(None)
    return Identity(rows[0].customer_id, rows[0].language or "en")


def open_key(*, customer_id: int | None, address: str) -> str:
    return f"customer:{customer_id}" if customer_id is not None else f"address:{address}"


async def _identify_and_find(session: AsyncSession,
                             inbound: InboundMessage) -> tuple[Identity, Conversation | None]:
    """Phone (SMS and WhatsApp alike) or email → contact → customer, and that identity's open
    conversation: one statement when the sender is a known customer (most texts), as each
    round trip costs the webhook ~0.3 ms. A number on file for two customers (a landlord's
    office line) identifies nobody: the bot has to ask."""
    key = _contact_key(inbound)
    if key is not None:
        rows = (await session.execute(_IDENTIFY, {"kind": key[0], "value": key[1]})).all()
        identity = _one_customer(rows)
        if identity.customer_id is not None:
            return identity, rows[0].Conversation
    else:
        identity = Identity(None)
    return identity, await repository.open_conversation(
        session, open_key(customer_id=None, address=inbound.sender))


async def find_or_open(session: AsyncSession,
                       inbound: InboundMessage) -> tuple[Identity, Conversation]:
    """The sender's identity and its open conversation, or a new one owned by the bot. Two
    first messages racing both land in one conversation (unique open_key)."""
    identity, found = await _identify_and_find(session, inbound)
    if found is not None:
        return identity, found
    key = open_key(customer_id=identity.customer_id, address=inbound.sender)
    now = utcnow()
    new_id = await repository.insert_ignoring_conflict(session, Conversation, {
        "customer_id": identity.customer_id, "channel": inbound.channel,
        "address": inbound.sender, "owner": Owner.BOT.value, "open_key": key,
        "language": identity.language, "bot_state": {}, "opened_at": now,
        "last_message_at": now, "owner_changed_at": now, "priority": 0,
    }, conflict=("open_key",))
    conversation = (await session.get(Conversation, new_id) if new_id is not None
                    else await repository.open_conversation(session, key))
    if conversation is None:  # opened and closed by someone else within our statement
        raise NotFound("conversation vanished while opening", open_key=key)
    return identity, conversation


async def receive(session: AsyncSession, *, inbound: InboundMessage,
                  answer_inline: bool = False) -> Intake:
    """Store a customer's message exactly once and file it in its conversation.

    A repeat of the same (channel, external_id) — a Twilio retry, a double submit — returns
    the stored one with created=False and changes nothing. Carrier opt-out/opt-in words
    update consent here, in the same transaction: no later send can miss them."""
    # No look-up first: a repeat is rare, and the insert below detects it race-free.
    _, conversation = await find_or_open(session, inbound)
    keyword = await _carrier_keyword(session, inbound)
    now = utcnow()
    message_id = await repository.insert_message_once(session, {
        "conversation_id": conversation.id, "direction": Direction.INBOUND.value,
        "author": "customer", **_inbound_fields(inbound, answer_inline=answer_inline),
        "quick_replies": [], "purpose": "reply", "status": "received",
        "status_rank": status_rank("received"),
        "carrier_keyword": keyword.value if keyword else None,
        "created_at": now, "status_at": now,
    })
    if message_id is None:  # a repeat: stored before, so it changes nothing now
        stored = await repository.message_by_external_id(session, inbound.channel,
                                                         inbound.external_id)
        assert stored is not None
        return await _repeat(session, stored)
    if keyword in (CarrierKeyword.OPT_OUT, CarrierKeyword.OPT_IN):
        # Only for a new message: a retried START must not undo a STOP sent after it.
        await compliance.record_consent(
            session, address=inbound.sender, opted_out=keyword is CarrierKeyword.OPT_OUT,
            keyword=compliance.keyword_word(inbound.text) or str(inbound.provider_keyword),
        )
    await session.execute(_TOUCH, {"conversation": conversation.id, "at": now,
                                   "new_channel": inbound.channel,
                                   "new_address": inbound.sender})
    return Intake(message_id=message_id, conversation_id=conversation.id,
                  customer_id=conversation.customer_id, owner=conversation.owner, created=True,
                  keyword=keyword)


async def receive_at_once(engine: AsyncEngine, *, inbound: InboundMessage,
                          answer_inline: bool = False) -> Intake | None:
    """`receive` for most texts on PostgreSQL, as one statement in autocommit: a known sender
    writing in their open conversation, with no carrier keyword. Committed when it returns.

    The unit of work around `receive` costs five round trips (BEGIN, identify, insert, touch,
    COMMIT) and four ORM statements; this is one, and its own transaction. None when the
    message needs the full path: SQLite, a keyword (consent is written with it), a first
    message (its conversation has to be opened), or a repeat (nothing was written: `receive`
    finds the stored one and says so)."""
    if engine.dialect.name != "postgresql" or _may_be_keyword(inbound):
        return None
    key = _contact_key(inbound)
    now = utcnow()
    fields = _inbound_fields(inbound, answer_inline=answer_inline)
    async with autocommit(engine) as connection:
        row = (await connection.execute(repository.STORE_IN_OPEN_CONVERSATION, {
            "kind": key[0] if key else None, "value": key[1] if key else None,
            "address_key": open_key(customer_id=None, address=inbound.sender),
            **fields, "quick_replies": [], "rank": status_rank("received"), "now": now,
        })).first()
    if row is None or row.message_id is None:
        return None
    pending = None if row.older_waiting else PendingMessage(
        id=row.message_id, conversation_id=row.conversation_id, channel=fields["channel"],
        sender=fields["sender"], recipient=fields["recipient"], body=fields["body"],
        media=fields["media"], carrier_keyword=None,
        provider_answered=fields["provider_answered"], owner=row.owner,
        bot_state=row.bot_state, customer_id=row.customer_id, language=row.language)
    return Intake(message_id=row.message_id, conversation_id=row.conversation_id,
                  customer_id=row.customer_id, owner=row.owner, created=True, pending=pending)


def _inbound_fields(inbound: InboundMessage, *, answer_inline: bool) -> dict[str, Any]:
    """What a customer's message stores of itself, whichever way it is stored: card numbers
    are masked here, before the column is ever written."""
    return {
        "channel": inbound.channel, "external_id": inbound.external_id,
        "sender": inbound.sender, "recipient": inbound.recipient,
        "body": mask_card_numbers(inbound.text),
        "media": [{"url": m.url, "content_type": m.content_type} for m in inbound.media],
        "inline_state": "waiting" if answer_inline else None,
        "provider_answered": bool(inbound.provider_keyword),
    }


def _may_be_keyword(inbound: InboundMessage) -> bool:
    """Whether `_carrier_keyword` could find one (YES counts: it needs the consent)."""
    if inbound.channel not in KEYWORD_CHANNELS:
        return False
    if inbound.provider_keyword:
        return True
    return (compliance.keyword_word(inbound.text) == "YES"
            or compliance.carrier_keyword(inbound.text, opted_out=False) is not None)


async def _repeat(session: AsyncSession, message: Message) -> Intake:
    conversation = await session.get(Conversation, message.conversation_id)
    assert conversation is not None
    return Intake(message_id=message.id, conversation_id=conversation.id,
                  customer_id=conversation.customer_id, owner=conversation.owner, created=False)


# Carrier opt-out words are a messaging rule: a caller saying "cancel" on the phone line, or
# a chat visitor typing "stop", is talking to the bot, not unsubscribing their number.
KEYWORD_CHANNELS = frozenset({"sms", "whatsapp", "email"})


async def _carrier_keyword(session: AsyncSession,
                           inbound: InboundMessage) -> CarrierKeyword | None:
    if inbound.channel not in KEYWORD_CHANNELS:
        return None
    keyword = compliance.carrier_keyword_from_provider(inbound.provider_keyword)
    if keyword is None:
        # Only YES depends on the current consent; skip the look-up for everything else.
        opted_out = (compliance.keyword_word(inbound.text) == "YES"
                     and await compliance.is_opted_out(session, inbound.sender))
        keyword = compliance.carrier_keyword(inbound.text, opted_out=opted_out)
    return keyword


async def record_reply(session: AsyncSession, *, conversation_id: int, reply: Reply,
                       author: str, reply_to: Message | PendingMessage | None = None,
                       purpose: str = "reply",
                       status: str = "pending") -> list[Row[Any]]:
    """Store what we say to the customer, before anyone sends it (ARCHITECTURE step 4).

    It goes back where the customer wrote from: the channel and address of `reply_to`, or
    the conversation's latest. On SMS and WhatsApp, smart-encoded and cut between words into
    messages that each fit Twilio's limits (segments.py); each piece is its own row, with its
    own provider id and delivery status. Returns the stored rows, for reading (Core rows
    with the model's columns, not ORM objects)."""
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound("no such conversation", conversation_id=conversation_id)
    origin = reply_to or await _latest_inbound(session, conversation_id)
    channel = origin.channel if origin else conversation.channel
    to = origin.sender if origin else conversation.address
    from_ = origin.recipient if origin else ""
    now = utcnow()
    values = [{
        "conversation_id": conversation_id, "direction": Direction.OUTBOUND.value,
        "channel": channel, "author": author, "sender": from_, "recipient": to,
        **piece, "purpose": purpose, "status": status, "status_rank": status_rank(status),
        "reply_to_id": reply_to.id if reply_to else None, "created_at": now, "status_at": now,
    } for piece in reply_pieces(reply, channel)]
    # An INSERT … RETURNING rather than session.add + flush: the rows back in order, without
    # the unit of work's bookkeeping (a third of this function's CPU).
    if len(values) == 1:  # the usual case: a single execution, not the executemany path
        return list(await session.execute(_INSERT_ONE, values[0]))
    return list(await session.execute(_INSERT_MANY, values))


def reply_pieces(reply: Reply, channel: str) -> list[dict[str, Any]]:
    """The messages a reply is sent as: body, and on the last piece its media and quick
    replies. Card numbers masked; on SMS and WhatsApp smart-encoded and cut between words."""
    text = mask_card_numbers(reply.text)
    bodies = split_message(smart_encode(text)) if channel in TEXT_CHANNELS else [text]
    last = len(bodies) - 1
    return [{"body": body,
             "media": [{"url": u, "content_type": ""} for u in reply.media_urls]
             if index == last else [],
             "quick_replies": list(reply.quick_replies) if index == last else []}
            for index, body in enumerate(bodies)]


async def mark_handled_with_replies(
        session: AsyncSession, *, message: PendingMessage,
        replies: Sequence[tuple[Reply, str, str]], now: datetime, fresh_after: datetime,
        state: Mapping[str, Any] | None,
        guard: bool = False) -> tuple[str, list[Row[Any]]] | None:
    """PostgreSQL: what `flows._record` does in three statements (bot state, handled mark,
    reply insert), in one. `replies` are (reply, purpose, author). Returns the message's new
    inline state and the reply rows; None if the message was handled already (nothing is
    written then). With `guard`, also None if the conversation is no longer as `message`
    says, or an older message waits (see repository.MARK_HANDLED_WITH_REPLIES).

    Each reply's status is decided in the statement from the mark's outcome, by the same
    rule as `flows._reply_status`: "pending" (the channel sender sends it) unless the waiting
    webhook answers; then "held" for a call, else "queued" for the webhook, or "suppressed"
    for an opted-out number (the compliance confirmation excepted)."""
    pieces: list[dict[str, Any]] = []
    for reply, purpose, author in replies:
        for piece in reply_pieces(reply, message.channel):
            pieces.append({"ord": len(pieces), **piece, "purpose": purpose, "author": author})
    params = {
        "message": message.id, "conversation": message.conversation_id, "now": now,
        "fresh_after": fresh_after, "save_state": state is not None, "state": state,
        "pieces": pieces, "hand_over": message.channel in TEXT_CHANNELS, "guard": guard,
        "seen_owner": message.owner, "seen_customer": message.customer_id,
        "seen_language": message.language, "seen_state": message.bot_state,
        "channel": message.channel, "sender": message.recipient, "recipient": message.sender,
        **{f"rank_{s}": status_rank(s) for s in ("pending", "held", "queued", "suppressed")},
    }
    # The handled mark is flows._record's last statement: if the turn before it neither
    # read nor wrote in the transaction, it is the whole unit of work, with no BEGIN or COMMIT.
    rows = await rows_at_once(session, repository.MARK_HANDLED_WITH_REPLIES, params)
    if not rows:
        return None
    stored = sorted((row for row in rows if row.id is not None), key=lambda row: row.id)
    return rows[0].marked_state, stored


async def _latest_inbound(session: AsyncSession, conversation_id: int) -> Message | None:
    return await session.scalar(
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.direction == "inbound")
        .order_by(Message.id.desc())
        .limit(1)
    )


async def transition(session: AsyncSession, *, conversation_id: int, to: str, reason: str,
                     agent_id: str | None = None, handoff: Handoff | None = None) -> str:
    """Change the owner through policy.ensure_transition; returns the previous owner.

    The row is locked (FOR UPDATE on PostgreSQL; SQLite serializes writers) so two agents
    accepting the same queued conversation cannot both win."""
    conversation = await session.scalar(
        select(Conversation).where(Conversation.id == conversation_id).with_for_update()
    )
    if conversation is None:
        raise NotFound("no such conversation", conversation_id=conversation_id)
    previous = conversation.owner
    target = ensure_transition(previous, to)
    conversation.owner = target.value
    conversation.owner_changed_at = utcnow()
    if target is Owner.AGENT:
        conversation.agent_id = agent_id
    elif target in (Owner.QUEUED, Owner.BOT):
        conversation.agent_id = None
    if handoff is not None:
        conversation.skill = handoff.skill
        conversation.priority = handoff.priority
        conversation.handoff = {"reason": handoff.reason, "skill": handoff.skill,
                                "priority": handoff.priority, "summary": dict(handoff.summary)}
    if target is Owner.CLOSED:
        conversation.open_key = None
        conversation.closed_at = utcnow()
    await session.flush()
    return previous


async def save_bot_state(session: AsyncSession, *, conversation_id: int,
                         state: Mapping[str, Any]) -> None:
    await session.execute(update(Conversation).where(Conversation.id == conversation_id)
                          .values(bot_state=dict(state)))


async def link_customer(session: AsyncSession, *, conversation_id: int, customer_id: int) -> None:
    """After the bot verifies who is asking (REG, account + ZIP), tie the thread to them."""
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound("no such conversation", conversation_id=conversation_id)
    conversation.customer_id = customer_id
    key = open_key(customer_id=customer_id, address=conversation.address)
    if conversation.open_key is not None and await repository.open_conversation(session, key) is None:
        conversation.open_key = key
    await session.flush()


async def mark_handled(session: AsyncSession, message_id: int) -> None:
    await session.execute(update(Message).where(Message.id == message_id)
                          .values(handled_at=utcnow()))


async def record_delivery_status(session: AsyncSession, *, status: str,
                                 message_id: int | None = None, channel: str | None = None,
                                 external_id: str | None = None,
                                 error_code: str | None = None) -> Message | None:
    """Apply a provider status only if it moves the message forward (policy.STATUS_RANK).

    One conditional UPDATE, so two callbacks racing cannot both apply and a late or repeated
    one is a no-op. Finds the message by our id when the callback carries it (it can arrive
    before the provider's answer told us its id), else by (channel, external_id). Returns the
    message when the status changed."""
    rank = status_rank(status)
    now = utcnow()
    values: dict[str, Any] = {"status": status, "status_rank": rank, "status_at": now}
    if error_code:
        values["error_code"] = error_code[:16]
    if status in ("sent", "delivered", "read"):
        values["sent_at"] = now
    stmt = update(Message).where(Message.status_rank < rank, Message.direction == "outbound")
    if message_id is not None:
        stmt = stmt.where(Message.id == message_id)
        if external_id:
            # Set the provider id if we had not recorded it yet.
            await session.execute(
                update(Message).where(Message.id == message_id, Message.external_id.is_(None))
                .values(external_id=external_id).execution_options(synchronize_session=False)
            )
    elif channel and external_id:
        stmt = stmt.where(Message.channel == channel, Message.external_id == external_id)
    else:
        return None
    result = await session.execute(
        stmt.values(**values).returning(Message.id).execution_options(synchronize_session=False)
    )
    changed = result.scalar_one_or_none()
    if changed is None:
        return None
    return await session.get(Message, changed, populate_existing=True)


async def claim(session: AsyncSession, message_id: int, *,
                expected: Sequence[str] = ("pending",), as_status: str = "claimed") -> bool:
    """Take the right to send one message; exactly one caller gets True."""
    return await repository.compare_and_set_status(
        session, message_id, expected=expected, new=as_status, rank=status_rank(as_status),
        status_at=utcnow(),
    )
