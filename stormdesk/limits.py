"""A ceiling on request bodies for the whole app, so no route buffers an attacker's gigabyte.

FastAPI reads a JSON body whole before any dependency (the bearer token included) runs, and
uvicorn sets no limit of its own. Routes that take more (inbound email, up to 25 MB) enforce
their own cap while streaming and are exempt here."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from core.errors import DomainError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_BODY_BYTES = 1024 * 1024
EXEMPT_PREFIXES = ("/channels/email/inbound",)


class PayloadTooLarge(DomainError):
    status_code = 413
    code = "too_large"


class BodyLimitMiddleware:
    """413 before reading a body whose Content-Length passes the limit; a chunked body that
    passes it stops being read there (FastAPI reports that as a 400, our own readers as 413)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int = MAX_BODY_BYTES,
                 exempt: tuple[str, ...] = EXEMPT_PREFIXES) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._refuse(send)
                return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise PayloadTooLarge(f"request bodies are at most {self.max_bytes} bytes")
            return message

        await self.app(scope, limited_receive, send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"error": "too_large", "message":
                           f"request bodies are at most {self.max_bytes} bytes"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
