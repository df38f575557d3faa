"""Replies by email: the OutboundSender (channels/base.py) for channel "email".

It composes the MIME reply, threading headers included, and hands it to a MailTransport
(integrations/email: SendGrid, SMTP, sandbox) that the composition root chose.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from typing import Protocol

from channels.email.loops import DEFAULT_BUDGET, ReplyBudget
from channels.email.store import MailRecord, MailStore
from channels.email.threading import (
    ThreadHeaders,
    external_id_for,
    new_message_id,
    parent_of,
    reply_headers,
)
from core.conversations.models import Message
from core.conversations.schemas import Outgoing, SendFailed, SendReceipt
from core.runtime import Runtime


class MailTransport(Protocol):
    """Hands one finished message to a provider; returns the provider's id, if it gives one.

    How to implement: raise core.conversations.schemas.SendFailed, permanent when retrying
    cannot help (5xx from a relay, 4xx from an API), transient otherwise."""

    async def send(self, message: EmailMessage) -> str | None: ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Identity:
    """Who our mail is from."""

    address: str
    display_name: str

    @property
    def domain(self) -> str:
        return self.address.rsplit("@", 1)[-1]


class EmailSender:
    """OutboundSender for email; `send_text` is all it needs (links are written out)."""

    def __init__(self, runtime: Runtime, *, transport: MailTransport, store: MailStore,
                 identity: Identity, budget: ReplyBudget = DEFAULT_BUDGET) -> None:
        self._runtime = runtime
        self.transport = transport
        self._store = store
        self._identity = identity
        self.budget = budget

    async def send_text(self, outgoing: Outgoing) -> SendReceipt:
        # The last defence against a loop that slipped past loops.machine_written: a person
        # never needs more replies an hour than this; a loop always does.
        if not await self.budget.allows(self._runtime.limiter, outgoing.to):
            raise SendFailed(f"reply budget for {outgoing.to} is spent", code="rate_limited",
                             permanent=True)
        thread, automatic = await self._thread_of(outgoing.message_id)
        message_id = new_message_id(self._identity.domain)
        message = compose(outgoing, identity=self._identity, thread=thread,
                          message_id=message_id, automatic=automatic)
        # Recorded before it leaves: a customer who answers within the second still threads.
        await self._store.put_record(external_id_for(message_id), MailRecord(
            message_id=message_id, subject=thread.subject, references=thread.references,
            direction="outbound"))
        await self.transport.send(message)
        return SendReceipt(external_id=external_id_for(message_id), status="sent")

    async def _thread_of(self, message_id: int) -> tuple[ThreadHeaders, bool]:
        fallback = f"Your message to {self._identity.display_name}"
        async with self._runtime.sessions() as session:
            row = await session.get(Message, message_id)
            parent = await parent_of(session, row) if row is not None else None
            automatic = row is None or row.author in {"bot", "system"}
            parent_key = parent.external_id if parent is not None else None
        record = await self._store.record(parent_key) if parent_key else None
        if record is None:
            return reply_headers(parent_id=None, parent_references=(), parent_subject=None,
                                 fallback_subject=fallback), automatic
        return reply_headers(parent_id=record.message_id, parent_references=record.references,
                             parent_subject=record.subject, fallback_subject=fallback), automatic


def compose(outgoing: Outgoing, *, identity: Identity, thread: ThreadHeaders, message_id: str,
            automatic: bool) -> EmailMessage:
    """The reply as MIME: plain UTF-8 text, threading headers, and loop guards."""
    message = EmailMessage()
    sender = outgoing.from_ or identity.address
    message["From"] = formataddr((identity.display_name, sender))
    message["To"] = outgoing.to
    message["Subject"] = thread.subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id
    if thread.in_reply_to:
        message["In-Reply-To"] = thread.in_reply_to
        message["References"] = " ".join(thread.references)
    if automatic:
        # RFC 3834: what software writes says so, and well-behaved responders stay quiet.
        message["Auto-Submitted"] = "auto-replied"
    # Exchange's own switch: no out-of-office, delivery or read receipts back to us.
    message["X-Auto-Response-Suppress"] = "All"
    text = outgoing.text
    if outgoing.media_urls:
        text = "\n".join([text, "", *outgoing.media_urls])
    message.set_content(text.rstrip() + "\n")
    return message
