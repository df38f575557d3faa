"""The embedded default: nothing leaves the machine. The reply is already stored as a message;
the sandbox also writes the exact MIME it would have sent, so a developer can open it."""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque
from email.message import EmailMessage
from pathlib import Path


class SandboxTransport:
    """Keeps the last messages in memory (tests read `sent`) and, given a directory, as .eml."""

    def __init__(self, *, outbox: Path | None = None, keep: int = 200) -> None:
        self.outbox = outbox
        self.sent: deque[EmailMessage] = deque(maxlen=keep)

    async def send(self, message: EmailMessage) -> str | None:
        self.sent.append(message)
        if self.outbox is not None:
            name = hashlib.sha256(str(message["Message-ID"]).encode()).hexdigest()[:32]
            await asyncio.to_thread(_write, self.outbox / f"{name}.eml", message.as_bytes())
        return None

    async def close(self) -> None:
        return None


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
