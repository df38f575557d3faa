"""Twilio for SMS, MMS and WhatsApp: the REST sender, pacing, and the sandbox stand-in."""

from __future__ import annotations

from twilio.rest import Client

from core.config import Settings
from core.ports import RateLimiter
from integrations.twilio.http import HttpxTwilioClient
from integrations.twilio.sandbox import SandboxSender
from integrations.twilio.sender import TwilioOptions, TwilioSender

__all__ = ["HttpxTwilioClient", "SandboxSender", "TwilioOptions", "TwilioSender",
           "build_senders", "messaging_extras", "twilio_client", "twilio_configured"]


def twilio_configured(settings: Settings) -> bool:
    return bool(settings.twilio_account_sid and settings.twilio_auth_token)


def twilio_client(settings: Settings, *, http_client: HttpxTwilioClient | None = None) -> Client:
    assert settings.twilio_account_sid and settings.twilio_auth_token
    return Client(
        username=settings.twilio_account_sid,
        password=settings.twilio_auth_token.get_secret_value(),
        account_sid=settings.twilio_account_sid,
        http_client=http_client or HttpxTwilioClient(api_base=settings.twilio_api_base),
    )


def build_senders(settings: Settings, *, limiter: RateLimiter,
                  status_callback_path: str = "/channels/twilio/sms/status") -> dict[str, object]:
    """SMS and WhatsApp senders: Twilio when an account is configured, else the sandbox."""
    if not twilio_configured(settings):
        sandbox = SandboxSender()
        return {"sms": sandbox, "whatsapp": sandbox}
    options = TwilioOptions(
        status_callback=settings.public_base_url.rstrip("/") + status_callback_path,
        mps_overrides=settings.twilio_mps)
    sender = TwilioSender(twilio_client(settings), limiter=limiter, options=options)
    return {"sms": sender, "whatsapp": sender}


def messaging_extras(settings: Settings, *, limiter: RateLimiter) -> dict[str, object]:
    """What the composition root adds to runtime.extras for text messaging."""
    return {
        "senders": build_senders(settings, limiter=limiter),
        "sandbox_phone": not twilio_configured(settings) and settings.env != "production",
    }
