"""What email keeps beside the messages table: accepted attachment bytes, and per message the
headers a later reply needs (real Message-ID, subject, References) and the attachment list
including the refused ones.

Files under one directory (Settings.email_store_dir): in production every API and worker
process must see the same directory (a shared volume). Attachments are content-addressed, so
a retried delivery writes nothing new; every write lands whole (temp file, then rename).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class MailRecord:
    """One email message's headers and attachment list, in or out."""

    message_id: str
    subject: str
    references: tuple[str, ...] = ()
    direction: str = "inbound"
    attachments: tuple[dict[str, Any], ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


class MailStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    async def put_attachment(self, data: bytes) -> str:
        """Store bytes once; returns their sha256, the attachment's id."""
        digest = hashlib.sha256(data).hexdigest()
        path = self._attachment_path(digest)
        if not path.exists():
            await asyncio.to_thread(_write_atomic, path, data)
        return digest

    async def attachment(self, digest: str) -> bytes | None:
        if not _SHA256.match(digest):
            return None
        path = self._attachment_path(digest)
        return await asyncio.to_thread(path.read_bytes) if path.exists() else None

    async def put_record(self, external_id: str, record: MailRecord) -> None:
        data = json.dumps(asdict(record), ensure_ascii=False).encode()
        await asyncio.to_thread(_write_atomic, self._record_path(external_id), data)

    async def record(self, external_id: str) -> MailRecord | None:
        path = self._record_path(external_id)
        if not path.exists():
            return None
        raw = json.loads(await asyncio.to_thread(path.read_bytes))
        return MailRecord(
            message_id=raw["message_id"], subject=raw.get("subject", ""),
            references=tuple(raw.get("references") or ()),
            direction=raw.get("direction", "inbound"),
            attachments=tuple(raw.get("attachments") or ()), extra=raw.get("extra") or {},
        )

    def _attachment_path(self, digest: str) -> Path:
        return self.root / "attachments" / digest[:2] / digest

    def _record_path(self, external_id: str) -> Path:
        # Message-IDs hold characters no file system should see; their digest names the file.
        digest = hashlib.sha256(external_id.encode()).hexdigest()
        return self.root / "messages" / digest[:2] / f"{digest}.json"


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
