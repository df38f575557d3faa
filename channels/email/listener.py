"""The embedded alternative to SendGrid Inbound Parse: an SMTP listener (aiosmtpd) on the app's
own event loop, taking mail for the utility's domain into the same intake.

It answers like a mail server should, so the sending server does the right thing: 550 for a
recipient we do not serve, 552 for mail over the size limit, 451 (try later) when we could
not store the message, 250 only once it is stored or deliberately set aside.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from channels.email.parse import MessageTooLarge, UnreadableEmail, parse_raw

if TYPE_CHECKING:
    from channels.email.service import EmailChannel

log = logging.getLogger(__name__)


class InboundMailHandler:
    """aiosmtpd handler: hooks are found by name (handle_RCPT, handle_DATA)."""

    def __init__(self, channel: EmailChannel) -> None:
        self._channel = channel

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        # Not an open relay: only our own domain's mail is ours to take.
        if not self._channel.config.ours(address):
            return "550 5.7.1 Relaying denied: we only accept mail for our own domain"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        try:
            email = parse_raw(raw, limits=self._channel.config.limits)
            received = await self._channel.receive(
                email, envelope_from=envelope.mail_from or "",
                envelope_to=tuple(envelope.rcpt_tos))
        except MessageTooLarge:
            return "552 5.3.4 Message too big"
        except UnreadableEmail:
            return "550 5.6.0 No usable From address"
        except Exception:  # the sending server keeps the mail and retries on 4xx
            log.exception("could not take inbound email from %s", envelope.mail_from)
            return "451 4.3.0 Could not store the message; try again later"
        return f"250 2.0.0 Accepted ({received.outcome})"


def listener_enabled(channel: EmailChannel) -> bool:
    """On when configured; unset means on only in embedded development (`make run`)."""
    settings = channel.runtime.settings
    if settings.email_smtp_listen is not None:
        return settings.email_smtp_listen
    return settings.embedded and settings.env == "development"


@asynccontextmanager
async def listening(channel: EmailChannel) -> AsyncIterator[int | None]:
    """Serve SMTP for the app's life; yields the bound port (None when off). Port 0 picks a
    free one, which `channel.listener_port` then reports."""
    if not listener_enabled(channel):
        yield None
        return
    settings = channel.runtime.settings
    handler = InboundMailHandler(channel)
    loop = asyncio.get_running_loop()

    def protocol() -> Any:
        return SMTP(handler, data_size_limit=channel.config.limits.max_message_bytes,
                    enable_SMTPUTF8=True, hostname=channel.config.domain,
                    ident="Stormdesk ESMTP", timeout=60, loop=loop)

    server = await loop.create_server(protocol, host=settings.email_smtp_host,
                                      port=settings.email_smtp_port)
    port = server.sockets[0].getsockname()[1]
    channel.listener_port = port
    log.info("SMTP listener on %s:%d for @%s", settings.email_smtp_host, port,
             channel.config.domain)
    try:
        yield port
    finally:
        server.close()
        await server.wait_closed()
        channel.listener_port = None
