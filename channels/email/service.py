"""The email channel's verbs: take a parsed email in (or set it aside as machine-written), and
the channel's parts built once per app (config, store, sender, the SMTP listener's hook).

Every inbound path (SendGrid form, SendGrid raw, SMTP listener) ends in `EmailChannel.receive`,
which hands the conversation pipeline the same InboundMessage SMS does.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email.message import Message as MimeMessage
from typing import Literal

from prometheus_client import Counter

from channels.email.clean import clean_body
from channels.email.loops import (
    DEFAULT_BUDGET,
    Machine,
    ReplyBudget,
    bounced_recipients,
    machine_written,
)
from channels.email.parse import EmailLimits, ParsedEmail, message_ids, parse_headers
from channels.email.sender import EmailSender, Identity, MailTransport
from channels.email.store import MailRecord, MailStore
from channels.email.threading import (
    CHANNEL,
    external_id_for,
    outbound_by_message_id,
    reply_subject,
    thread_conversation,
)
from core.config import Settings
from core.conversations import direct, flows, service
from core.conversations.events import DeliveryStatusChanged
from core.conversations.schemas import InboundMessage, Media
from core.db import unit_of_work
from core.pii import mask_card_numbers
from core.runtime import Runtime

log = logging.getLogger(__name__)

INBOUND = Counter("stormdesk_email_inbound_total", "Inbound email by outcome", ["outcome"])
ATTACHMENTS_REFUSED = Counter("stormdesk_email_attachments_refused_total",
                              "Attachments refused by reason", ["reason"])

EXTRA_KEY = "email_channel"


@dataclass(frozen=True, slots=True)
class Received:
    """What became of one inbound email."""

    outcome: Literal["stored", "repeat", "machine"]
    message_id: int | None = None
    conversation_id: int | None = None
    machine: Machine | None = None
    # The conversation its In-Reply-To/References point at, when one is stored (for logs).
    thread_conversation_id: int | None = None


@dataclass(frozen=True, slots=True)
class EmailConfig:
    identity: Identity
    limits: EmailLimits
    budget: ReplyBudget = DEFAULT_BUDGET

    @classmethod
    def from_settings(cls, settings: Settings) -> EmailConfig:
        return cls(
            identity=Identity(address=settings.email_address.strip().lower(),
                              display_name=settings.utility_name),
            limits=EmailLimits(max_message_bytes=settings.email_max_message_bytes,
                               max_attachment_bytes=settings.email_max_attachment_bytes),
        )

    @property
    def domain(self) -> str:
        return self.identity.domain

    def ours(self, address: str) -> bool:
        return address.strip().lower().rsplit("@", 1)[-1] == self.domain


class EmailChannel:
    def __init__(self, runtime: Runtime, *, transport: MailTransport,
                 config: EmailConfig | None = None, store: MailStore | None = None) -> None:
        self.runtime = runtime
        self.config = config or EmailConfig.from_settings(runtime.settings)
        self.store = store or MailStore(runtime.settings.email_store_dir)
        self.sender = EmailSender(runtime, transport=transport, store=self.store,
                                  identity=self.config.identity, budget=self.config.budget)
        self.listener_port: int | None = None  # set while the SMTP listener runs

    async def receive(self, email: ParsedEmail, *, envelope_from: str | None = None,
                      envelope_to: tuple[str, ...] = ()) -> Received:
        """File one email in its conversation, exactly once; machine-written mail is never
        handed to the bot (a bounce of one of our replies marks that reply undelivered)."""
        machine = machine_written(email, envelope_from=envelope_from,
                                  own_addresses=frozenset({self.config.identity.address}))
        if machine is not None:
            INBOUND.labels(machine.kind).inc()
            log.info("email %s from %s not answered: %s (%s)", email.message_id,
                     email.from_address, machine.kind, machine.reason)
            if machine.kind == "bounce":
                await self._record_bounce(email)
            return Received("machine", machine=machine)

        external_id = external_id_for(email.message_id)
        async with self.runtime.sessions() as session:
            threaded = await thread_conversation(session, email.thread_ids)
        media = await self._keep_attachments(email)
        # The subject is kept for the reply's "Re:" line: a card number typed there is masked
        # like the body, or the reply would carry it back out in clear (PCI DSS).
        await self.store.put_record(external_id, MailRecord(
            message_id=email.message_id, subject=mask_card_numbers(email.subject),
            references=email.references,
            attachments=tuple(
                {"filename": a.filename, "content_type": a.content_type, "size": a.size,
                 "sha256": a.sha256, "refused": a.refused} for a in email.attachments),
            extra={"from_name": email.from_name, "body_from_html": email.body_from_html},
        ))
        text = clean_body(email.body)
        if not text and not media:
            # Nothing new below the quote (a reply that only forwards the thread back):
            # the subject is what the customer chose to say.
            text = reply_subject(email.subject, fallback="").removeprefix("Re: ")
        inbound = InboundMessage(
            channel=CHANNEL, external_id=external_id, sender=email.from_address,
            recipient=self._our_recipient(email, envelope_to), text=text, media=media,
            profile_name=email.from_name or None,
        )
        result = await flows.intake(self.runtime, inbound,
                                    handle_here=direct.handle_here(self.runtime))
        if threaded is not None and threaded != result.conversation_id:
            log.info("email %s answers conversation %s but was filed in %s by its sender",
                     email.message_id, threaded, result.conversation_id)
        INBOUND.labels("stored" if result.created else "repeat").inc()
        return Received("stored" if result.created else "repeat", message_id=result.message_id,
                        conversation_id=result.conversation_id, thread_conversation_id=threaded)

    def _our_recipient(self, email: ParsedEmail, envelope_to: tuple[str, ...]) -> str:
        """The address of ours they wrote to (billing@, outages@…): replies come from it."""
        for address in (*email.to, *envelope_to):
            if self.config.ours(address):
                return address.lower()
        return self.config.identity.address

    async def _keep_attachments(self, email: ParsedEmail) -> tuple[Media, ...]:
        kept: list[Media] = []
        for attachment in email.attachments:
            if attachment.refused is not None or attachment.content is None:
                ATTACHMENTS_REFUSED.labels(attachment.refused or "empty").inc()
                log.info("email %s: attachment %r (%s, %d bytes) refused: %s",
                         email.message_id, attachment.filename, attachment.content_type,
                         attachment.size, attachment.refused)
                continue
            digest = await self.store.put_attachment(attachment.content)
            kept.append(Media(f"/channels/email/attachments/{digest}", attachment.content_type))
        return tuple(kept)

    async def _record_bounce(self, email: ParsedEmail) -> None:
        """A DSN names the message it returns: mark that reply of ours undelivered."""
        status_code = _dsn_status(email.headers)
        for original in _returned_message_ids(email):
            async with unit_of_work(self.runtime.sessions) as session:
                ours = await outbound_by_message_id(session, original)
                if ours is None:
                    continue
                changed = await service.record_delivery_status(
                    session, status="undelivered", channel=CHANNEL,
                    external_id=external_id_for(original), error_code=status_code or "bounce")
            if changed is not None:
                log.warning("email reply %s to %s bounced (%s); failed: %s", changed.id,
                            changed.recipient, status_code, ", ".join(bounced_recipients(email)))
                await self.runtime.bus.publish(DeliveryStatusChanged.topic, DeliveryStatusChanged(
                    conversation_id=changed.conversation_id, message_id=changed.id,
                    status=changed.status, error_code=changed.error_code).to_payload())
            return


def _returned_message_ids(email: ParsedEmail) -> tuple[str, ...]:
    """The Message-ID of the mail a bounce returns: from the returned headers part, else the
    bounce's own In-Reply-To/References (some MTAs set them)."""
    found: list[str] = []
    headers = email.headers
    for part in headers.walk() if headers.is_multipart() else ():
        kind = part.get_content_type()
        returned: MimeMessage | None = None
        if kind == "text/rfc822-headers":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                returned = parse_headers(payload)
        elif kind == "message/rfc822":
            inner = part.get_payload()
            returned = inner[0] if isinstance(inner, list) and inner else None
        if returned is not None:
            found.extend(message_ids(str(returned.get("message-id") or "")))
    found.extend(email.thread_ids)
    return tuple(dict.fromkeys(found))


def _dsn_status(headers: MimeMessage) -> str | None:
    for part in headers.walk() if headers.is_multipart() else ():
        if part.get_content_type() == "message/delivery-status":
            for block in part.get_payload() or ():
                status = str(block.get("status") or "").strip()
                if status:
                    return status[:16]
    return None


@asynccontextmanager
async def email_channel(runtime: Runtime, *, transport: MailTransport) -> AsyncIterator[
        EmailChannel]:
    """Build the channel for the app's life: its sender joins the sender table (before the
    pipeline builds the table), and the SMTP listener runs when configured."""
    from channels.email.listener import listening

    channel = EmailChannel(runtime, transport=transport)
    runtime.extras[EXTRA_KEY] = channel
    runtime.extras.setdefault("senders", {})[CHANNEL] = channel.sender
    table = runtime.extras.get("sender_table")
    if table is not None and CHANNEL not in table:
        log.error("the sender table was built before the email channel started: email "
                  "replies will not be sent (start email_channel before the pipeline)")
    try:
        async with listening(channel):
            yield channel
    finally:
        runtime.extras.pop(EXTRA_KEY, None)
        await transport.close()
