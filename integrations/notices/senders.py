"""Notice senders (core/notifications/ports.py) over the pipeline's Twilio and sandbox senders.

Sending itself is integrations/twilio's TwilioSender unchanged: per-number pacing through the
shared RateLimiter, 429/20429 back-off, validity period. Added here, without touching it:
- its own status-callback path, so a callback's `?m=` is read as a notice id, never as a
  conversation message id (the two id spaces overlap);
- `find_sent`: asks Twilio's Messages list (newest first, by To and From) whether this exact
  body was accepted since a time, which is how a worker that inherits a dead worker's notice
  knows not to send it twice.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from twilio.rest import Client

from core.config import Settings
from core.conversations.schemas import Outgoing, SendReceipt
from core.ports import RateLimiter
from integrations.twilio import SandboxSender, TwilioOptions, TwilioSender, twilio_client
from integrations.twilio import twilio_configured as configured
from integrations.twilio.pacing import messages_per_second

log = logging.getLogger(__name__)

NOTICE_STATUS_PATH = "/notices/twilio/status"
LOOKUP_PAGE = 50


class TwilioNoticeSender:
    def __init__(self, client: Client, *, limiter: RateLimiter,
                 options: TwilioOptions | None = None, concurrency: int = 40) -> None:
        self._client = client
        self._options = options or TwilioOptions()
        self._sender = TwilioSender(client, limiter=limiter, options=self._options)
        # Fewer requests at once than the HTTP pool has connections (50): requests queued
        # inside httpcore's pool cost time quadratic in the queue (profiled), so they wait
        # here instead, after their rate token and claim, which only bounds the send.
        self._calls = asyncio.Semaphore(concurrency)

    async def send_text(self, outgoing: Outgoing) -> SendReceipt:
        async with self._calls:
            return await self._sender.send_text(outgoing)

    def messages_per_second(self, from_: str) -> float:
        return messages_per_second(from_, self._options.mps_overrides)

    async def find_sent(self, outgoing: Outgoing, *, since: datetime) -> SendReceipt | None:
        """Twilio lists newest first; a queued message has no DateSent yet, so filter on
        DateCreated ourselves instead of asking for DateSent."""
        async with self._calls:
            found = await self._client.messages.list_async(
                to=outgoing.to, from_=outgoing.from_, limit=LOOKUP_PAGE)
        for message in found:
            created = message.date_created
            if created is not None and created < since:
                break
            if (message.body or "") == outgoing.text:
                return SendReceipt(external_id=message.sid, status=str(message.status or "sent"))
        return None


class SandboxNoticeSender:
    """Nothing leaves the machine, so a resend after a crash harms nobody: `find_sent` says
    "not sent" and the notice goes (again) to the sandbox."""

    def __init__(self, rate: float = 1000.0) -> None:
        self._sandbox = SandboxSender()
        self._rate = rate

    async def send_text(self, outgoing: Outgoing) -> SendReceipt:
        return await self._sandbox.send_text(outgoing)

    def messages_per_second(self, from_: str) -> float:
        return self._rate

    async def find_sent(self, outgoing: Outgoing, *, since: datetime) -> SendReceipt | None:
        return None


def build_notice_senders(settings: Settings, *, limiter: RateLimiter,
                         mps_overrides: dict[str, float] | None = None) -> dict[str, object]:
    """SMS and WhatsApp notice senders: Twilio when configured, else the sandbox. Email
    notices use the email channel's sender, which the worker picks up when it starts."""
    if not configured(settings):
        sandbox = SandboxNoticeSender()
        return {"sms": sandbox, "whatsapp": sandbox}
    options = TwilioOptions(
        status_callback=settings.public_base_url.rstrip("/") + NOTICE_STATUS_PATH,
        mps_overrides={**settings.twilio_mps, **(mps_overrides or {})})
    sender = TwilioNoticeSender(twilio_client(settings), limiter=limiter, options=options)
    return {"sms": sender, "whatsapp": sender}
