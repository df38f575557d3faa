"""Value types that cross the pipeline: what a channel hands in, what the bot hands back,
what a sender is asked to send. Frozen: once a message is normalized, nobody edits it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.clock import utcnow


@dataclass(frozen=True, slots=True)
class Media:
    url: str
    content_type: str = "application/octet-stream"


@dataclass(frozen=True, kw_only=True, slots=True)
class InboundMessage:
    """One message from a customer, normalized by its channel's parser (ARCHITECTURE step 1).

    `sender` and `recipient` are channel addresses exactly as replies must use them: E.164 for
    SMS, `whatsapp:+1…` for WhatsApp, an email address for email."""

    channel: str
    external_id: str
    sender: str
    recipient: str
    text: str = ""
    media: tuple[Media, ...] = ()
    received_at: datetime = field(default_factory=utcnow)
    profile_name: str | None = None
    # The provider already answered a carrier keyword (Twilio Advanced Opt-Out sends
    # OptOutType=STOP/START/HELP and its own confirmation): record consent, do not answer twice.
    provider_keyword: str | None = None

    def __post_init__(self) -> None:
        # PostgreSQL text cannot hold NUL (SQLite can): a handset or mail client that sends one
        # must not be a stored message on one database and a 500 (and endless retries) on the
        # other. Every channel's parser builds this type, so this is the one place to drop it.
        if "\x00" in self.text:
            object.__setattr__(self, "text", self.text.replace("\x00", ""))

    @property
    def sender_phone(self) -> str | None:
        """The E.164 number behind a phone-like address, for identity; None for email."""
        address = self.sender.removeprefix("whatsapp:")
        return address if address.startswith("+") else None


@dataclass(frozen=True, kw_only=True, slots=True)
class Reply:
    """What the bot (or an agent) says. Channels that cannot show media or buttons fall back to
    text (channels/base.py)."""

    text: str
    media_urls: tuple[str, ...] = ()
    quick_replies: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class Handoff:
    """Why and to whom the bot hands a conversation over; the agent sees the summary first."""

    reason: str
    skill: str = "general"
    priority: int = 0
    summary: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, slots=True)
class Turn:
    """One inbound message as the bot sees it, with the conversation around it."""

    conversation_id: int
    message_id: int
    channel: str
    address: str
    customer_id: int | None
    owner: str
    language: str
    text: str
    media: tuple[Media, ...] = ()
    state: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, slots=True)
class PendingMessage:
    """An inbound message waiting for its handling, with what handling reads of its
    conversation: plain columns, not ORM objects (building those cost more CPU than the
    query). Read under the conversation's lock, or by the store statement just before it
    with nothing older waiting (service.receive_at_once); then the handled mark checks that
    it is still what the handler should see (flows.handle_next)."""

    id: int
    conversation_id: int
    channel: str
    sender: str
    recipient: str
    body: str
    media: list[dict[str, str]]
    carrier_keyword: str | None
    provider_answered: bool
    owner: str
    bot_state: dict[str, Any]
    customer_id: int | None
    language: str


@dataclass(frozen=True, kw_only=True, slots=True)
class BotOutcome:
    replies: tuple[Reply, ...] = ()
    state: Mapping[str, Any] | None = None  # None: keep the saved state as it is
    handoff: Handoff | None = None
    close: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class Outgoing:
    """One stored outbound message, as a sender gets it."""

    message_id: int
    channel: str
    to: str
    from_: str | None
    text: str
    media_urls: tuple[str, ...] = ()
    quick_replies: tuple[str, ...] = ()
    purpose: str = "reply"


@dataclass(frozen=True, kw_only=True, slots=True)
class SendReceipt:
    """What the provider said: its id for the message and the status it reported."""

    external_id: str | None
    status: str = "queued"
    error_code: str | None = None


class SendFailed(Exception):
    """A sender could not hand a message to its provider.

    `permanent`: retrying cannot help (invalid number, blocked content); `opted_out`: the
    provider says the recipient unsubscribed (Twilio 21610), which we record as consent;
    `outcome_unknown`: the provider may have taken it (a timeout), so it must not be retried
    and its status is left for the provider's callback to settle."""

    def __init__(self, message: str, *, code: str | None = None, permanent: bool = False,
                 opted_out: bool = False, outcome_unknown: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.permanent = permanent or opted_out or outcome_unknown
        self.opted_out = opted_out
        self.outcome_unknown = outcome_unknown


@dataclass(frozen=True, kw_only=True, slots=True)
class InlineReply:
    """A reply handed to the webhook waiting for it, as it rides the wake-up on the bus.

    Named like the message row's columns, so whatever renders a stored reply renders this."""

    id: int
    channel: str
    recipient: str
    sender: str
    body: str
    media: tuple[dict[str, str], ...] = ()
    quick_replies: tuple[str, ...] = ()

    def to_payload(self) -> dict[str, Any]:
        return {"id": self.id, "channel": self.channel, "recipient": self.recipient,
                "sender": self.sender, "body": self.body, "media": list(self.media),
                "quick_replies": list(self.quick_replies)}

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> InlineReply:
        return cls(id=int(data["id"]), channel=str(data["channel"]),
                   recipient=str(data["recipient"]), sender=str(data["sender"]),
                   body=str(data["body"]),
                   media=tuple(dict(m) for m in data.get("media") or ()),
                   quick_replies=tuple(str(q) for q in data.get("quick_replies") or ()))

    @classmethod
    def of(cls, row: Any) -> InlineReply:
        """From a stored message row."""
        return cls(id=row.id, channel=row.channel, recipient=row.recipient, sender=row.sender,
                   body=row.body, media=tuple(row.media or ()),
                   quick_replies=tuple(row.quick_replies or ()))
