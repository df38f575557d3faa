"""What sending notices needs from a provider adapter, beyond the channel sender contract.

How to implement: `send_text` exactly as channels/base.py's OutboundSender (raise SendFailed
when refused; `outcome_unknown` when the provider may have taken it). Two optional methods,
found by name:
- `messages_per_second(from_) -> float`: the provider's rate for that sender number;
- `find_sent(outgoing, since=…) -> SendReceipt | None`: did the provider accept this exact
  message (to, from, body) after `since`? It lets a worker that inherits a notice whose sender
  died mid-call tell "already sent" from "never reached the provider". Return None only when
  sure it was not accepted; a sender without it makes such notices `failed`
  (outcome unknown) rather than risk a second copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from core.conversations.schemas import Outgoing, SendReceipt


class NoticeSender(Protocol):
    async def send_text(self, outgoing: Outgoing) -> SendReceipt: ...


class SentLookup(Protocol):
    async def find_sent(self, outgoing: Outgoing, *, since: datetime) -> SendReceipt | None: ...


NoticeSenders = Mapping[str, NoticeSender]  # channel → sender
