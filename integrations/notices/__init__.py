"""Provider adapters for bulk notices: the pipeline's Twilio sender, plus what notices need
from Twilio besides sending (the rate of a sender number, and whether a message was accepted)."""

from __future__ import annotations

from integrations.notices.senders import (
    NOTICE_STATUS_PATH,
    SandboxNoticeSender,
    TwilioNoticeSender,
    build_notice_senders,
)

__all__ = ["NOTICE_STATUS_PATH", "SandboxNoticeSender", "TwilioNoticeSender",
           "build_notice_senders"]
