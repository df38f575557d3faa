"""Outbound email transports: SendGrid's v3 API, any SMTP relay, and the sandbox stand-in.

Each takes a finished MIME message (channels/email composes it, threading headers and all)
and hands it to its provider; the composition root picks one from settings.
"""

from __future__ import annotations

from core.config import Settings
from integrations.email.sandbox import SandboxTransport
from integrations.email.sendgrid import SendGridTransport
from integrations.email.smtp import SmtpTransport

__all__ = ["SandboxTransport", "SendGridTransport", "SmtpTransport", "build_transport"]


def build_transport(settings: Settings) -> SandboxTransport | SendGridTransport | SmtpTransport:
    """SendGrid when an API key is set, else SMTP when a relay host is, else the sandbox."""
    if settings.sendgrid_api_key is not None:
        return SendGridTransport(api_key=settings.sendgrid_api_key.get_secret_value(),
                                 base_url=settings.sendgrid_api_base)
    if settings.smtp_host:
        return SmtpTransport(
            host=settings.smtp_host, port=settings.smtp_port, username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        )
    return SandboxTransport(outbox=settings.email_store_dir / "outbox")
