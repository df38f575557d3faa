"""Bearer tokens for operators and integrations: random, shown once, stored as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth.models import ApiToken
from core.clock import utcnow
from core.enums import Role
from core.errors import Invalid, Unauthorized

TOKEN_PREFIX = "sdk_"


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking: the name goes into the audit trail, the role decides what is allowed."""

    name: str
    role: Role
    token_id: int | None = None
    agent_id: int | None = None


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


async def create_token(
    session: AsyncSession, *, name: str, role: Role | str, ttl: timedelta | None = None
) -> tuple[ApiToken, str]:
    try:
        role = Role(role)
    except ValueError as exc:
        raise Invalid(f"unknown role {role!r}") from exc
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        name=name,
        role=role.value,
        token_hash=hash_token(raw),
        expires_at=utcnow() + ttl if ttl else None,
    )
    session.add(token)
    await session.flush()
    return token, raw


async def authenticate(session: AsyncSession, raw: str, *, now: datetime | None = None) -> Caller:
    now = now or utcnow()
    token = (
        await session.execute(select(ApiToken).where(ApiToken.token_hash == hash_token(raw)))
    ).scalar_one_or_none()
    if token is None or token.revoked_at is not None:
        raise Unauthorized("invalid token")
    if token.expires_at is not None and token.expires_at <= now:
        raise Unauthorized("token expired")
    return Caller(name=f"token:{token.name}", role=Role(token.role), token_id=token.id)


async def revoke_token(session: AsyncSession, *, token_id: int) -> None:
    token = await session.get(ApiToken, token_id)
    if token is not None and token.revoked_at is None:
        token.revoked_at = utcnow()
        await session.flush()
