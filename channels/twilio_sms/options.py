"""Knobs of the Twilio messaging channel; the composition root may override them through
`runtime.extras["twilio_sms_options"]`."""

from __future__ import annotations

from dataclasses import dataclass

WEBHOOK_PATH = "/channels/twilio/sms"
STATUS_PATH = "/channels/twilio/sms/status"


@dataclass(frozen=True, slots=True)
class TwilioSmsOptions:
    # How long the webhook waits for the bot before answering with empty TwiML and leaving
    # the reply to the REST sender. Twilio gives up on a webhook after 15 s and retries on
    # connection failures; a couple of seconds keeps connections short under a storm.
    inline_budget_s: float = 2.0
    region: str = "US"
