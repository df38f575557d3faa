"""A chat message from a session, normalized to the pipeline's InboundMessage (channels/base.py).

The idempotency key is the session's own: a browser that resends a message after a reconnect
(same client id) is stored once, and one session can never collide with another's ids."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from channels.webchat.frames import ChatMessage
from channels.webchat.tokens import SESSION_ID
from core.clock import utcnow
from core.conversations.schemas import InboundMessage
from core.errors import Invalid

CHANNEL = "webchat"
ADDRESS_PREFIX = "webchat:"
# Replies are recorded as coming from the inbound message's recipient: us, on the web.
RECIPIENT = "webchat"


def address_of(session_id: str) -> str:
    return f"{ADDRESS_PREFIX}{session_id}"


def session_of(address: str) -> str | None:
    """The session id behind a web chat address, or None if it is not one."""
    sid = address.removeprefix(ADDRESS_PREFIX)
    return sid if address.startswith(ADDRESS_PREFIX) and SESSION_ID.match(sid) else None


def external_id_for(session_id: str, client_id: str) -> str:
    """Session id + a digest of the client's id: 56 lowercase hex characters (the column holds
    64), so every stored id of one session shares a prefix that sorts the same under any
    collation (repository.py finds a session's messages by it)."""
    digest = hashlib.blake2b(client_id.encode("utf-8"), digest_size=16).hexdigest()
    return session_id + digest


@dataclass(frozen=True, slots=True)
class SessionMessage:
    """What the websocket hands the parser: the verified session and the decoded frame."""

    session_id: str
    frame: ChatMessage
    received_at: datetime = field(default_factory=utcnow)


class WebchatParser:
    """InboundParser for web chat (no I/O: the token was verified before, storage is after)."""

    def parse(self, raw: SessionMessage) -> InboundMessage:
        if not SESSION_ID.match(raw.session_id):
            raise Invalid("not a web chat session id")
        return InboundMessage(
            channel=CHANNEL, external_id=external_id_for(raw.session_id, raw.frame.client_id),
            sender=address_of(raw.session_id), recipient=RECIPIENT, text=raw.frame.text,
            received_at=raw.received_at,
        )
