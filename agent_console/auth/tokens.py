"""Short-lived JWTs (HS256) for the console's REST calls and its websocket."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import jwt

from core.agents.models import Agent
from core.agents.policy import CONSOLE_ROLES
from core.auth.service import Caller
from core.enums import Role
from core.errors import Unauthorized

ISSUER = "stormdesk"
AUDIENCE = "stormdesk-console"
ALGORITHM = "HS256"


def signing_key(secret_key: str) -> bytes:
    """A key for console tokens only, derived from the app secret (full 256 bits, and a token
    signed here can never be mistaken for another use of the same secret)."""
    return hmac.new(secret_key.encode(), b"stormdesk/console-jwt/v1", hashlib.sha256).digest()


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_at: int  # unix seconds


def issue(agent: Agent, *, secret_key: str, ttl_s: int, now: float | None = None) -> IssuedToken:
    issued = int(now if now is not None else time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(agent.id),
        "name": agent.username,
        "role": agent.role,
        "iat": issued,
        "exp": issued + ttl_s,
        "jti": secrets.token_hex(8),
    }
    return IssuedToken(jwt.encode(claims, signing_key(secret_key), algorithm=ALGORITHM),
                       issued + ttl_s)


def verify(raw: str, *, secret_key: str) -> tuple[Caller, int]:
    """The caller and the token's expiry, or Unauthorized saying why (expired vs invalid)."""
    try:
        claims = jwt.decode(
            raw, signing_key(secret_key), algorithms=[ALGORITHM], audience=AUDIENCE,
            issuer=ISSUER, options={"require": ["exp", "iat", "sub", "role", "name"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("token expired", reason="expired") from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized("invalid token", reason="invalid") from exc
    try:
        role = Role(claims["role"])
        agent_id = int(claims["sub"])
    except (ValueError, TypeError) as exc:
        raise Unauthorized("invalid token", reason="invalid") from exc
    if role not in CONSOLE_ROLES:
        raise Unauthorized("invalid token", reason="invalid")
    return Caller(name=f"agent:{claims['name']}", role=role, agent_id=agent_id), int(claims["exp"])


def verifier(secret_key: str) -> Callable[[str], Caller]:
    """The `runtime.extras["jwt_verifier"]` core.http calls for a JWT bearer token."""

    def verify_caller(raw: str) -> Caller:
        return verify(raw, secret_key=secret_key)[0]

    return verify_caller
