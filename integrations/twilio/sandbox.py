"""The embedded default's sender: nothing leaves the machine. The message is already stored;
marking it sent is all there is, and /sandbox/phone shows it as the customer's phone would."""

from __future__ import annotations

import secrets

from core.conversations.schemas import Outgoing, SendReceipt


class SandboxSender:
    """An OutboundSender that only says "sent"; ids look like Twilio's so logs read the same."""

    async def send_text(self, outgoing: Outgoing) -> SendReceipt:
        return SendReceipt(external_id=f"SB{secrets.token_hex(16)}", status="sent")

    async def send_media(self, outgoing: Outgoing) -> SendReceipt:
        return await self.send_text(outgoing)
