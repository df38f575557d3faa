"""Session tokens: the one thing the browser keeps (localStorage), so a reload or a dropped
connection finds its conversation again.

Signed with HMAC-SHA256 under a key derived from settings.secret_key for this purpose only
(a console JWT can never pass as a chat session, nor the reverse). Signed, not encrypted: it
names a random session id and its expiry, nothing secret. Format: `wc1.<payload>.<mac>`,
both parts base64url without padding."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Literal

PREFIX = "wc1"
MAX_TOKEN_CHARS = 512
# 96 random bits as lowercase hex: also the prefix of every inbound message id of the session
# (parser.py), which keeps that id collation-safe for range scans on any database.
SESSION_ID = re.compile(r"^[0-9a-f]{24}$")
_KEY_LABEL = b"stormdesk webchat session v1"


def new_session_id() -> str:
    return secrets.token_hex(12)


@dataclass(frozen=True, slots=True)
class SessionToken:
    session_id: str
    issued_at: int
    expires_at: int


class TokenRefused(Exception):
    """A token that is not ours (`invalid`) or has run out (`expired`)."""

    def __init__(self, reason: Literal["invalid", "expired"]) -> None:
        super().__init__(f"session token {reason}")
        self.reason = reason


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    def __init__(self, secret_key: str, *, ttl_s: int) -> None:
        self._key = hmac.new(secret_key.encode("utf-8"), _KEY_LABEL, hashlib.sha256).digest()
        self.ttl_s = ttl_s

    def issue(self, session_id: str | None = None, *,
              now: float | None = None) -> tuple[str, SessionToken]:
        """A token for `session_id` (a new session when None), valid for the TTL from now."""
        sid = session_id or new_session_id()
        if not SESSION_ID.match(sid):
            raise ValueError("not a web chat session id")
        issued = int(now if now is not None else time.time())
        token = SessionToken(session_id=sid, issued_at=issued, expires_at=issued + self.ttl_s)
        body = _b64(json.dumps({"sid": sid, "iat": token.issued_at, "exp": token.expires_at},
                               separators=(",", ":")).encode("utf-8"))
        return f"{PREFIX}.{body}.{self._mac(body)}", token

    def verify(self, raw: object, *, now: float | None = None) -> SessionToken:
        if not isinstance(raw, str) or len(raw) > MAX_TOKEN_CHARS:
            raise TokenRefused("invalid")
        prefix, _, rest = raw.partition(".")
        body, _, mac = rest.partition(".")
        # Compare the MAC before reading anything the client wrote.
        if prefix != PREFIX or not body or not hmac.compare_digest(
                mac.encode("utf-8"), self._mac(body).encode("ascii")):
            raise TokenRefused("invalid")
        try:
            claims = json.loads(_unb64(body))
            token = SessionToken(session_id=str(claims["sid"]), issued_at=int(claims["iat"]),
                                 expires_at=int(claims["exp"]))
        except (ValueError, KeyError, TypeError):
            raise TokenRefused("invalid") from None
        if not SESSION_ID.match(token.session_id):
            raise TokenRefused("invalid")
        if token.expires_at <= (now if now is not None else time.time()):
            raise TokenRefused("expired")
        return token

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._key, f"{PREFIX}.{body}".encode(),
                             hashlib.sha256).digest())
