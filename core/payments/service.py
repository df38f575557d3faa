"""Create and redeem signed, single-use, expiring payment links.

The token carries the link id, expiry and a nonce, signed with HMAC-SHA256 over the secret key,
so a forged or edited link is refused before the database is asked; the nonce row then makes
it single-use.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import utcnow
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.payments.models import PaymentLink

DEFAULT_TTL = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class IssuedLink:
    link_id: int
    url: str
    expires_at: datetime


def _sign(secret: str, message: str) -> str:
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode().rstrip("=")


async def issue_link(
    session: AsyncSession, *, account_id: int, amount_cents: int, secret: str, base_url: str,
    channel: str | None = None, ttl: timedelta = DEFAULT_TTL, now: datetime | None = None,
) -> IssuedLink:
    if amount_cents <= 0:
        raise Invalid("a payment link needs a positive amount")
    now = now or utcnow()
    link = PaymentLink(account_id=account_id, amount_cents=amount_cents,
                       nonce=secrets.token_urlsafe(12), channel=channel, expires_at=now + ttl)
    session.add(link)
    await session.flush()
    body = f"{link.id}.{int(link.expires_at.timestamp())}.{link.nonce}"
    token = f"{body}.{_sign(secret, body)}"
    return IssuedLink(link_id=link.id, url=f"{base_url.rstrip('/')}/pay/{token}",
                      expires_at=link.expires_at)


async def open_link(
    session: AsyncSession, *, token: str, secret: str, now: datetime | None = None
) -> PaymentLink:
    """Check signature, expiry and single use; return the link (not yet consumed)."""
    parts = token.split(".")
    if len(parts) != 4 or not parts[0].isdigit() or not parts[1].isdigit():
        raise NotFound("no such payment link")
    body, signature = ".".join(parts[:3]), parts[3]
    if not hmac.compare_digest(_sign(secret, body), signature):
        raise Forbidden("payment link signature is not valid")
    link = await session.get(PaymentLink, int(parts[0]))
    if link is None or link.nonce != parts[2]:
        raise NotFound("no such payment link")
    if link.used_at is not None:
        raise Conflict("this payment link was already used")
    if (now or utcnow()) >= link.expires_at:
        raise Conflict("this payment link has expired")
    return link


async def consume_link(
    session: AsyncSession, *, link: PaymentLink, ledger_entry_id: int | None,
    now: datetime | None = None,
) -> None:
    """Mark used with a guarded UPDATE, so two clicks racing can't both pay."""
    result = await session.execute(
        update(PaymentLink)
        .where(PaymentLink.id == link.id, PaymentLink.used_at.is_(None))
        .values(used_at=now or utcnow(), ledger_entry_id=ledger_entry_id)
    )
    if result.rowcount != 1:
        raise Conflict("this payment link was already used")
