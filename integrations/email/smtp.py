"""Outbound mail through any SMTP relay (the utility's own, Postfix, SES, SendGrid's SMTP)."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from core.conversations.schemas import SendFailed


class SmtpTransport:
    """One connection per message: replies are a trickle, not a blast, and a fresh connection
    never trips over a relay that dropped an idle one."""

    def __init__(self, *, host: str, port: int = 587, username: str | None = None,
                 password: str | None = None, timeout: float = 30.0) -> None:
        self.host, self.port = host, port
        self.username, self.password = username, password
        self.timeout = timeout

    async def send(self, message: EmailMessage) -> str | None:
        try:
            await aiosmtplib.send(
                message, hostname=self.host, port=self.port,
                username=self.username, password=self.password, timeout=self.timeout,
                # 465 is TLS from the first byte; elsewhere STARTTLS whenever the relay offers it.
                use_tls=self.port == 465, start_tls=False if self.port == 465 else None,
            )
        except aiosmtplib.SMTPRecipientsRefused as refused:
            codes = sorted({str(r.code) for r in refused.recipients})
            raise SendFailed(f"relay refused the recipient: {refused}", code=",".join(codes),
                             permanent=all(c.startswith("5") for c in codes)) from refused
        except aiosmtplib.SMTPResponseException as refused:
            # 5xx is the relay's final word; 4xx (greylisting, rate limits) asks us to retry.
            raise SendFailed(f"relay said {refused.code} {refused.message}",
                             code=str(refused.code), permanent=refused.code >= 500) from refused
        except (aiosmtplib.SMTPException, OSError) as fault:
            # Connection lost or timed out, perhaps after DATA: retry. SMTP has no delivery
            # callback to settle an unknown outcome, and a rare duplicate beats a lost reply.
            raise SendFailed(f"relay unreachable: {fault}", code="smtp") from fault
        return None

    async def close(self) -> None:
        return None
