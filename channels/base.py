"""The channel contract (no web framework here): how a channel hands messages in and how
replies go out, whatever the channel (STYLE 3, after Rasa's InputChannel/OutputChannel).

Inbound: each adapter has a parser turning what its provider sent into the one frozen
`InboundMessage` (defined in core, so the conversation service can take it without knowing
channels). Outbound: a sender per channel with one required method, `send_text`; senders
that can do more add `send_media` / `send_quick_replies`, everyone else gets text with the
links or options written out. `deliver` is the dispatcher: it picks the sender from the table
by the message's channel, checks consent at send time, and records what the provider said.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Protocol, TypeVar

from core.clock import utcnow
from core.conversations import compliance, service
from core.conversations.events import DeliveryStatusChanged
from core.conversations.models import Message
from core.conversations.policy import status_rank
from core.conversations.schemas import InboundMessage, Media, Outgoing, SendFailed, SendReceipt
from core.db import unit_of_work
from core.runtime import Runtime

__all__ = [
    "InboundMessage",
    "InboundParser",
    "Media",
    "OutboundSender",
    "Outgoing",
    "SendFailed",
    "SendReceipt",
    "SenderTable",
    "deliver",
    "send_content",
]

log = logging.getLogger(__name__)

RawT_contra = TypeVar("RawT_contra", contravariant=True)


class InboundParser(Protocol[RawT_contra]):
    """Turns one provider payload into an InboundMessage, or raises core.errors.Invalid.

    How to implement: keep addresses as the provider's reply addresses (E.164, whatsapp:+1…,
    an email), keep the provider's message id as `external_id` (it is the idempotency key),
    and do no I/O: verification happens before parsing, storage after."""

    def parse(self, raw: RawT_contra) -> InboundMessage: ...


class OutboundSender(Protocol):
    """Sends one stored message on one channel.

    How to implement: `send_text` is the only required method. Return the provider's id and
    status; raise SendFailed (permanent or not) when the provider refused. Optional richer
    methods, found by name: `send_media(outgoing)`, `send_quick_replies(outgoing)`. Never
    check consent or store anything: `deliver` does both, once, for every channel."""

    async def send_text(self, outgoing: Outgoing) -> SendReceipt: ...


def text_fallback(outgoing: Outgoing, *, media: bool = True, options: bool = True) -> Outgoing:
    """Media as links and quick replies as a numbered list, for channels that only do text."""
    text = outgoing.text
    if media and outgoing.media_urls:
        text = "\n".join([text, *outgoing.media_urls]).strip()
    if options and outgoing.quick_replies:
        listed = "  ".join(f"{i}) {o}" for i, o in enumerate(outgoing.quick_replies, 1))
        text = f"{text}\n{listed}".strip()
    return replace(outgoing, text=text,
                   media_urls=() if media else outgoing.media_urls,
                   quick_replies=() if options else outgoing.quick_replies)


async def send_content(sender: OutboundSender, outgoing: Outgoing) -> SendReceipt:
    """Use the richest method the sender has for this content, else fall back to text."""
    if outgoing.quick_replies and hasattr(sender, "send_quick_replies"):
        return await sender.send_quick_replies(outgoing)  # type: ignore[attr-defined]
    if outgoing.media_urls and hasattr(sender, "send_media"):
        return await sender.send_media(  # type: ignore[attr-defined]
            text_fallback(outgoing, media=False))
    return await sender.send_text(text_fallback(outgoing))


class SenderTable:
    """Channel name → sender (STYLE 5, Chatwoot's SendReplyJob), built by the composition root."""

    def __init__(self, senders: Mapping[str, OutboundSender]) -> None:
        self._senders = dict(senders)

    def for_channel(self, channel: str) -> OutboundSender:
        try:
            return self._senders[channel]
        except KeyError:
            raise LookupError(f"no sender for channel {channel!r}") from None

    def __contains__(self, channel: object) -> bool:
        return channel in self._senders


async def deliver(runtime: Runtime, message_id: int, senders: SenderTable) -> str | None:
    """Send one stored outbound message once; returns its status, or None if another
    dispatcher (or the inline webhook answer) already has it.

    Consent is checked here, at send time: a STOP that arrived after the reply was written
    still stops it. Customer messages and anything not pending are never sent (no echoes)."""
    async with unit_of_work(runtime.sessions) as session:
        if not await service.claim(session, message_id):
            return None
        message = await session.get(Message, message_id, populate_existing=True)
        assert message is not None
        if message.direction != "outbound" or message.author == "customer":
            _set_status(message, "failed", "echo")
            return message.status
        if not await compliance.may_send(session, address=message.recipient,
                                         purpose=message.purpose):
            _set_status(message, "suppressed", None)
            return message.status
        outgoing = Outgoing(
            message_id=message.id, channel=message.channel, to=message.recipient,
            from_=message.sender or None, text=message.body,
            media_urls=tuple(m["url"] for m in message.media or ()),
            quick_replies=tuple(message.quick_replies or ()), purpose=message.purpose,
        )
        conversation_id = message.conversation_id
    try:
        receipt = await send_content(senders.for_channel(outgoing.channel), outgoing)
    except SendFailed as failure:
        return await _record_failure(runtime, message_id, conversation_id, outgoing, failure)
    except BaseException:
        # Unknown outcome or a transient fault: give the message back to the queue's retry.
        async with unit_of_work(runtime.sessions) as session:
            await service.claim(session, message_id, expected=("claimed",), as_status="pending")
        raise
    async with unit_of_work(runtime.sessions) as session:
        changed = await service.record_delivery_status(
            session, message_id=message_id, status=receipt.status,
            external_id=receipt.external_id, error_code=receipt.error_code)
        status = changed.status if changed else receipt.status
    await runtime.bus.publish(DeliveryStatusChanged.topic, DeliveryStatusChanged(
        conversation_id=conversation_id, message_id=message_id, status=status).to_payload())
    return status


async def _record_failure(runtime: Runtime, message_id: int, conversation_id: int,
                          outgoing: Outgoing, failure: SendFailed) -> str:
    if not failure.permanent:
        async with unit_of_work(runtime.sessions) as session:
            await service.claim(session, message_id, expected=("claimed",), as_status="pending")
        raise failure
    if failure.outcome_unknown:
        # Stays "claimed" (rank 0): the provider's status callback, which carries our id,
        # will say what really happened.
        async with unit_of_work(runtime.sessions) as session:
            message = await session.get(Message, message_id)
            if message is not None:
                message.error_code = failure.code
        log.warning("message %s: outcome unknown (%s)", message_id, failure)
        return "claimed"
    status = "suppressed" if failure.opted_out else "failed"
    async with unit_of_work(runtime.sessions) as session:
        if failure.opted_out:
            # The provider knows of an opt-out we missed (e.g. Twilio's own STOP handling).
            await compliance.record_consent(session, address=outgoing.to, opted_out=True,
                                            keyword="PROVIDER")
        await service.record_delivery_status(session, message_id=message_id, status=status,
                                             error_code=failure.code)
    log.warning("message %s not sent: %s (code %s)", message_id, failure, failure.code)
    await runtime.bus.publish(DeliveryStatusChanged.topic, DeliveryStatusChanged(
        conversation_id=conversation_id, message_id=message_id, status=status,
        error_code=failure.code).to_payload())
    return status


def _set_status(message: Message, status: str, error_code: str | None) -> None:
    message.status = status
    message.status_rank = status_rank(status)
    message.status_at = utcnow()
    message.error_code = error_code
