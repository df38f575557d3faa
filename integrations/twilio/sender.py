"""Sends stored messages through Twilio's Messages API with the official client: paced per
sender number, backing off on 429, with a validity period so stale replies die at Twilio."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from core.conversations.schemas import Outgoing, SendFailed, SendReceipt
from core.conversations.segments import fits
from core.phones import mask_phone
from core.ports import RateLimiter
from integrations.twilio.pacing import messages_per_second, pacing_key

log = logging.getLogger(__name__)

# Twilio error codes that say "never retry this message" (https://www.twilio.com/docs/api/errors).
UNSUBSCRIBED = 21610  # the recipient replied STOP: Twilio blocks every send to them
PERMANENT_CODES = frozenset({
    21211,  # invalid To
    21212,  # invalid From
    21408,  # region not enabled
    21606,  # From cannot send to this To
    21612,  # To not reachable from this From
    21614,  # To is not a mobile number
    21617,  # body too long
    30007,  # filtered as spam by the carrier
    63016,  # WhatsApp: outside the 24-hour session, a template is required
})
TOO_MANY_REQUESTS = 20429


@dataclass(frozen=True, slots=True)
class TwilioOptions:
    status_callback: str | None = None  # …/channels/twilio/sms/status; we add ?m=<message id>
    # Seconds Twilio may keep a message queued before dropping it: a reply that would arrive
    # an hour late confuses more than it helps. Twilio allows 1..36000 (default 36000).
    validity_period_s: int = 3600
    max_attempts: int = 5
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 8.0
    mps_overrides: Mapping[str, float] = field(default_factory=dict)


Sleep = Callable[[float], Awaitable[None]]


class TwilioSender:
    """The SMS/MMS/WhatsApp OutboundSender (channels/base.py) for a real Twilio account."""

    def __init__(self, client: Client, *, limiter: RateLimiter,
                 options: TwilioOptions | None = None, sleep: Sleep = asyncio.sleep) -> None:
        self._client = client
        self._limiter = limiter
        self._options = options or TwilioOptions()
        self._sleep = sleep

    async def send_text(self, outgoing: Outgoing) -> SendReceipt:
        return await self._create(outgoing, media_urls=())

    async def send_media(self, outgoing: Outgoing) -> SendReceipt:
        """MMS (US/Canada numbers) and WhatsApp carry media natively, up to 10 URLs."""
        return await self._create(outgoing, media_urls=outgoing.media_urls[:10])

    async def _create(self, outgoing: Outgoing, *, media_urls: tuple[str, ...]) -> SendReceipt:
        if not outgoing.from_:
            raise SendFailed("no sender number for this message", code="no_from", permanent=True)
        if not fits(outgoing.text):
            # record_reply splits long text; anything reaching here too long is a bug upstream.
            raise SendFailed("body over Twilio's limit", code="21617", permanent=True)
        params: dict[str, Any] = {
            "to": outgoing.to, "from_": outgoing.from_, "body": outgoing.text,
            "validity_period": self._options.validity_period_s,
            # Twilio swaps GSM look-alikes for us too; our own smart_encode already ran.
            "smart_encoded": True,
        }
        if media_urls:
            params["media_url"] = list(media_urls)
        if self._options.status_callback:
            params["status_callback"] = f"{self._options.status_callback}?m={outgoing.message_id}"
        rate = messages_per_second(outgoing.from_, self._options.mps_overrides)
        for attempt in range(1, self._options.max_attempts + 1):
            await self._limiter.acquire(pacing_key(outgoing.from_), rate=rate,
                                        burst=max(1, int(rate)))
            try:
                created = await self._client.messages.create_async(**params)
            except TwilioRestException as exc:
                if _throttled(exc) and attempt < self._options.max_attempts:
                    await self._sleep(self._backoff(attempt))
                    continue
                raise _as_send_failed(exc) from exc
            except httpx.ConnectError as exc:
                # Nothing reached Twilio: safe to try again.
                if attempt < self._options.max_attempts:
                    await self._sleep(self._backoff(attempt))
                    continue
                raise SendFailed(f"cannot reach Twilio: {exc}", code="connect") from exc
            except httpx.TimeoutException as exc:
                # Twilio may have accepted it; the Messages API has no idempotency key, so a
                # retry could text the customer twice. Leave the outcome to the status callback.
                raise SendFailed("Twilio did not answer in time", code="timeout",
                                 permanent=True, outcome_unknown=True) from exc
            log.info("twilio accepted %s to %s (attempt %d)", created.sid,
                     mask_phone(outgoing.to), attempt)
            return SendReceipt(external_id=created.sid, status=str(created.status or "queued"))
        raise AssertionError("unreachable")

    def _backoff(self, attempt: int) -> float:
        """Exponential with full jitter, so many workers throttled together do not return
        together."""
        ceiling = min(self._options.backoff_cap_s, self._options.backoff_base_s * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)


def _throttled(exc: TwilioRestException) -> bool:
    return exc.status == 429 or exc.code == TOO_MANY_REQUESTS


def _as_send_failed(exc: TwilioRestException) -> SendFailed:
    code = str(exc.code) if exc.code is not None else str(exc.status)
    if exc.code == UNSUBSCRIBED:
        return SendFailed("recipient has opted out at Twilio", code=code, opted_out=True)
    if _throttled(exc) or exc.status >= 500:
        return SendFailed(f"Twilio unavailable ({exc.status})", code=code)
    permanent = exc.code in PERMANENT_CODES or 400 <= exc.status < 500
    return SendFailed(f"Twilio refused the message: {exc.msg}", code=code, permanent=permanent)
