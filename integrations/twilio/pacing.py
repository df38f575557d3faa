"""How fast one sender number may send, by kind of number (DOMAIN.md "Real numbers").

Carriers and Twilio cap messages per second per sender: a US long code 1/s, a toll-free
number 3/s, a short code 100/s and up; WhatsApp senders start around 80/s. Going faster
only buys 429s and queueing at Twilio, where ValidityPeriod then drops stale replies.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.phones import is_short_code

TOLL_FREE_PREFIXES = ("+1800", "+1833", "+1844", "+1855", "+1866", "+1877", "+1888")


def sender_kind(sender: str) -> str:
    if sender.startswith("whatsapp:"):
        return "whatsapp"
    if is_short_code(sender):
        return "short_code"
    if sender.startswith(TOLL_FREE_PREFIXES):
        return "toll_free"
    return "long_code"


DEFAULT_MPS: Mapping[str, float] = {
    "long_code": 1.0,
    "toll_free": 3.0,
    "short_code": 100.0,
    "whatsapp": 80.0,
}


def messages_per_second(sender: str, overrides: Mapping[str, float] | None = None) -> float:
    """Per-number override first (a number with a raised limit), then its kind's default."""
    if overrides and sender in overrides:
        return overrides[sender]
    return DEFAULT_MPS[sender_kind(sender)]


def pacing_key(sender: str) -> str:
    """The token-bucket key, shared by every process through the RateLimiter port."""
    return f"twilio:mps:{sender}"
