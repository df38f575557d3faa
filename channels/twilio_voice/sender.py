"""Written replies on a phone conversation: an agent's answer from the console, a notice.

The bot's words ride the call's own TwiML and never come here. Anything written later has no
call to be spoken into (the caller is on hold or gone), so it goes as a text message to the
number that called — the channel contract's "richer content falls back to text". Wire it in
the sender table under "voice", around the SMS sender:
`senders["voice"] = VoiceTextFallback(senders["sms"])`.
"""

from __future__ import annotations

from dataclasses import replace

from channels.base import OutboundSender, SendFailed
from core.conversations.schemas import Outgoing, SendReceipt


class VoiceTextFallback:
    """The OutboundSender for channel "voice": an SMS to the caller, when there is a number."""

    def __init__(self, sms: OutboundSender) -> None:
        self._sms = sms

    async def send_text(self, outgoing: Outgoing) -> SendReceipt:
        if not outgoing.to.startswith("+"):
            # A withheld caller ID: there is nobody to text.
            raise SendFailed("the caller withheld their number", code="no_number",
                             permanent=True)
        return await self._sms.send_text(replace(outgoing, channel="sms"))


def register_voice_sender(runtime_extras: dict) -> None:
    """Put the text fallback in the sender table under "voice", around whatever sends SMS."""
    senders = runtime_extras.setdefault("senders", {})
    if "sms" in senders:
        senders.setdefault("voice", VoiceTextFallback(senders["sms"]))
