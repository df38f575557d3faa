"""Twilio's incoming-message webhook form → InboundMessage (SMS, MMS and WhatsApp alike).

Twilio posts form fields: MessageSid (SmsMessageSid/SmsSid on older numbers), From, To,
Body, NumMedia with MediaUrl0…/MediaContentType0…, and for WhatsApp `whatsapp:+1…`
addresses plus ProfileName and WaId. With Advanced Opt-Out it adds OptOutType.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from core.conversations.schemas import InboundMessage, Media
from core.errors import Invalid
from core.phones import to_e164

WHATSAPP = "whatsapp:"
MAX_MEDIA = 10  # Twilio's ceiling per message
SID = re.compile(r"[A-Za-z0-9]{2,64}")  # Twilio's are 34: two letters and 32 hex digits
MAX_ADDRESS = 254


class TwilioMessageParser:
    """The InboundParser (channels/base.py) for Twilio messaging webhooks."""

    def __init__(self, *, region: str = "US") -> None:
        self._region = region

    def parse(self, raw: Mapping[str, str]) -> InboundMessage:
        sid = raw.get("MessageSid") or raw.get("SmsMessageSid") or raw.get("SmsSid")
        sender, recipient = raw.get("From", ""), raw.get("To", "")
        if not sid or not sender or not recipient:
            raise Invalid("a Twilio message needs MessageSid, From and To")
        # Signed only means it came through Twilio; the fields still go into bounded columns
        # (external_id 64, recipient 254), where PostgreSQL would refuse them with a 500.
        if not SID.fullmatch(sid):
            raise Invalid("MessageSid is not a Twilio id")
        if len(recipient) > MAX_ADDRESS or "\x00" in recipient:
            raise Invalid("To is not an address")
        channel = "whatsapp" if sender.startswith(WHATSAPP) else "sms"
        # Replies must go to exactly the address Twilio knows; the E.164 form also keys
        # consent and identity, so "+1 (555)…" and "+1555…" are one person.
        address = to_e164(sender, self._region)
        if channel == "whatsapp":
            address = WHATSAPP + address
        return InboundMessage(
            channel=channel,
            external_id=sid,
            sender=address,
            recipient=recipient,
            text=raw.get("Body", ""),
            media=_media(raw),
            profile_name=raw.get("ProfileName") or None,
            provider_keyword=raw.get("OptOutType") or None,
        )


def _media(raw: Mapping[str, str]) -> tuple[Media, ...]:
    try:
        count = min(int(raw.get("NumMedia") or 0), MAX_MEDIA)
    except ValueError:
        raise Invalid("NumMedia is not a number") from None
    found: list[Media] = []
    for index in range(count):
        url = raw.get(f"MediaUrl{index}")
        if url:
            found.append(Media(url, raw.get(f"MediaContentType{index}") or ""))
    return tuple(found)
