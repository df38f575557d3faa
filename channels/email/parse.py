"""Real MIME in, one ParsedEmail out: identity and threading headers, the body as text, and
attachments checked against size and type limits. Cleaning (quotes, signatures) is clean.py's.

Both inbound paths end here: raw RFC 5322 bytes (SMTP listener, SendGrid "send raw") go
through `parse_raw`; SendGrid's pre-parsed form fields go through `assemble`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr, parsedate_to_datetime

from channels.email.charsets import decode_bytes, repair_text
from channels.email.html_text import html_to_text
from core.errors import DomainError, Invalid

MB = 1024 * 1024

ALLOWED_TYPES = frozenset({
    "image/jpeg", "image/png", "image/gif", "image/webp", "image/heic", "image/heif",
    "application/pdf",
})


class MessageTooLarge(DomainError):
    """Over the whole-message limit: refused before parsing (SMTP answers 552, HTTP 413)."""

    status_code = 413
    code = "too_large"


class UnreadableEmail(Invalid):
    """No usable sender address: nobody to thread, identify or answer."""

    code = "unreadable_email"


@dataclass(frozen=True, slots=True)
class EmailLimits:
    """What we accept; configurable per deployment (Settings.email_* feed these)."""

    max_message_bytes: int = 25 * MB
    max_attachment_bytes: int = 10 * MB
    max_attachments: int = 10
    allowed_types: frozenset[str] = ALLOWED_TYPES


@dataclass(frozen=True, slots=True)
class Attachment:
    """One attachment as received; refused ones keep their metadata and a reason, never bytes."""

    filename: str | None
    content_type: str
    size: int
    sha256: str
    refused: str | None = None  # "too_large" | "type_not_allowed" | "type_mismatch" | "too_many"
    content: bytes | None = field(default=None, repr=False, compare=False)

    @property
    def accepted(self) -> bool:
        return self.refused is None


@dataclass(frozen=True, slots=True)
class ParsedEmail:
    message_id: str  # "<id@host>", as in the header; synthesized when the sender left it out
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    from_address: str  # lower-cased addr-spec
    from_name: str
    to: tuple[str, ...]
    subject: str
    body: str  # the whole body as text, quotes and signature still in
    body_from_html: bool
    attachments: tuple[Attachment, ...]
    date: datetime | None
    size: int
    headers: Message = field(repr=False, compare=False)

    @property
    def thread_ids(self) -> tuple[str, ...]:
        """Ids this message answers, nearest first: In-Reply-To, then References newest first."""
        seen: dict[str, None] = {}
        for mid in (*self.in_reply_to, *reversed(self.references)):
            seen.setdefault(mid, None)
        return tuple(seen)


_PARSER = BytesParser(policy=policy.default)
_MSGID = re.compile(r"<[^<>\s]+>")


def parse_raw(raw: bytes, *, limits: EmailLimits = EmailLimits()) -> ParsedEmail:
    """Parse a whole message as it came off the wire."""
    if len(raw) > limits.max_message_bytes:
        raise MessageTooLarge("message is over the size limit",
                              size=len(raw), limit=limits.max_message_bytes)
    message = _PARSER.parsebytes(raw)
    assert isinstance(message, EmailMessage)
    plain = _body_part(message, "plain")
    html = _body_part(message, "html")
    text, from_html = _choose_body(
        _part_text(plain) if plain is not None else None,
        _part_text(html) if html is not None else None,
    )
    skip = {id(p) for p in (plain, html) if p is not None}
    files = [
        (part.get_filename(), part.get_content_type(), part.get_payload(decode=True) or b"")
        for part in message.walk()
        if id(part) not in skip and _is_attachment(part)
    ]
    return _build(message, text=text, from_html=from_html, files=files, limits=limits,
                  size=len(raw), raw_for_id=raw)


def assemble(
    headers: Message,
    *,
    text: str | None,
    html: str | None,
    files: list[tuple[str | None, str, bytes]],
    size: int,
    limits: EmailLimits = EmailLimits(),
) -> ParsedEmail:
    """Build from parts a provider already split out (SendGrid's parsed form)."""
    if size > limits.max_message_bytes:
        raise MessageTooLarge("message is over the size limit",
                              size=size, limit=limits.max_message_bytes)
    body, from_html = _choose_body(text, html)
    fingerprint = "\n".join([str(headers), text or "", html or ""]).encode("utf-8", "replace")
    return _build(headers, text=body, from_html=from_html, files=files, limits=limits,
                  size=size, raw_for_id=fingerprint)


def parse_headers(block: bytes) -> Message:
    """A bare header block (SendGrid's `headers` field) as a Message the loop checks can read."""
    block = block.replace(b"\r\n", b"\n").rstrip(b"\n") + b"\n\n"
    return _PARSER.parsebytes(block, headersonly=True)


def header_text(headers: Message, name: str) -> str:
    """A header as readable text; broken encodings degrade to odd characters, not exceptions."""
    try:
        value = headers.get(name)
    except Exception:  # noqa: BLE001 - the stdlib raises assorted errors on malformed headers
        value = None
    if value is None:
        raw = _raw_header(headers, name)
        return repair_text(raw).strip() if raw else ""
    return repair_text(" ".join(str(value).split()))


def message_ids(value: str) -> tuple[str, ...]:
    """Every "<id>" in a Message-ID, In-Reply-To or References header, in order; a bare id
    without brackets (some old clients) is taken as one id."""
    found = tuple(_MSGID.findall(value))
    if found:
        return found
    bare = value.strip()
    return (f"<{bare}>",) if bare and " " not in bare and "@" in bare else ()


def _build(
    headers: Message,
    *,
    text: str,
    from_html: bool,
    files: list[tuple[str | None, str, bytes]],
    limits: EmailLimits,
    size: int,
    raw_for_id: bytes,
) -> ParsedEmail:
    name, address = _from(headers)
    if not address:
        raise UnreadableEmail("the message has no usable From address")
    own_id = message_ids(header_text(headers, "message-id"))
    # No Message-ID (rare, broken senders): derive one from the content, so a provider's
    # retry of the same message is still recognised as the same message.
    message_id = own_id[0] if own_id else (
        f"<{hashlib.sha256(raw_for_id).hexdigest()[:32]}@no-message-id.invalid>"
    )
    return ParsedEmail(
        message_id=message_id,
        in_reply_to=message_ids(header_text(headers, "in-reply-to")),
        references=message_ids(header_text(headers, "references")),
        from_address=address,
        from_name=name,
        to=tuple(a.lower() for _, a in getaddresses([header_text(headers, "to")]) if a),
        subject=header_text(headers, "subject"),
        body=text,
        body_from_html=from_html,
        attachments=_check_attachments(files, limits),
        date=_date(header_text(headers, "date")),
        size=size,
        headers=headers,
    )


def _from(headers: Message) -> tuple[str, str]:
    try:
        value = headers.get("from")
        addresses = getattr(value, "addresses", ()) if value is not None else ()
    except Exception:  # noqa: BLE001 - malformed header: the lenient parser below decides
        addresses = ()
    if addresses and addresses[0].addr_spec and "@" in addresses[0].addr_spec:
        return repair_text(addresses[0].display_name), addresses[0].addr_spec.lower()
    name, address = parseaddr(header_text(headers, "from"))
    address = address.strip().lower()
    return name, address if "@" in address else ""


def _raw_header(headers: Message, name: str) -> str:
    for key, value in headers.raw_items():
        if key.lower() == name:
            return str(value)
    return ""


def _date(value: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed is not None and parsed.tzinfo is not None else None


def _body_part(message: EmailMessage, subtype: str) -> EmailMessage | None:
    try:
        part = message.get_body(preferencelist=(subtype,))
    except Exception:  # noqa: BLE001 - malformed multipart trees
        return None
    return part if isinstance(part, EmailMessage) else None


def _part_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    text = decode_bytes(data, part.get_param("charset"))
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if str(part.get_param("format") or "").lower() == "flowed":
        text = unflow(text, delsp=str(part.get_param("delsp") or "").lower() == "yes")
    return text


def _choose_body(text: str | None, html: str | None) -> tuple[str, bool]:
    # Some clients send an empty text/plain beside a full HTML part; take whichever has words.
    if text is not None and text.strip():
        return text.replace("\r\n", "\n").strip("\n"), False
    if html is not None and html.strip():
        return html_to_text(html), True
    return "", False


def unflow(text: str, *, delsp: bool) -> str:
    """Undo format=flowed (RFC 3676): a line ending in a space continues on the next one.
    Apple Mail and Thunderbird send it; unwrapped sentences read better to NLU."""
    out: list[str] = []
    pending: str | None = None
    pending_depth = 0
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        body = line[depth:]
        body = body.removeprefix(" ")  # space-stuffing
        if pending is not None and depth == pending_depth:
            body = pending + body
        elif pending is not None:
            out.append(">" * pending_depth + (" " if pending_depth else "") + pending)
        pending = None
        if body.endswith(" ") and body != "-- ":
            pending, pending_depth = (body[:-1] if delsp else body), depth
            continue
        out.append(">" * depth + (" " if depth else "") + body)
    if pending is not None:
        out.append(">" * pending_depth + (" " if pending_depth else "") + pending)
    return "\n".join(out)


def _is_attachment(part: Message) -> bool:
    if part.is_multipart():
        return False
    maintype = part.get_content_type().partition("/")[0]  # one header parse, not two
    if maintype == "message":
        return False  # DSN status and returned headers, forwarded mail: read, not stored
    if maintype == "text":
        return part.get_content_disposition() == "attachment" or bool(part.get_filename())
    return True


# Leading bytes of the types we allow: a declared type that its bytes contradict is refused,
# so a renamed executable cannot pass as a photo.
_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"%PDF-", 0, "application/pdf"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"WEBP", 8, "image/webp"),
    (b"ftypheic", 4, "image/heic"),
    (b"ftypheix", 4, "image/heic"),
    (b"ftypmif1", 4, "image/heif"),
)


def sniff_type(data: bytes) -> str | None:
    """The content type the bytes say, for the types we allow; None when they say nothing."""
    for magic, offset, content_type in _MAGIC:
        if data[offset:offset + len(magic)] == magic:
            return content_type
    return None


def _check_attachments(
    files: list[tuple[str | None, str, bytes]], limits: EmailLimits
) -> tuple[Attachment, ...]:
    checked: list[Attachment] = []
    kept = 0
    for filename, declared, data in files:
        declared = declared.lower()
        sniffed = sniff_type(data)
        # Phones and webmail often label photos and PDFs application/octet-stream.
        content_type = sniffed or declared
        refused: str | None = None
        if len(data) > limits.max_attachment_bytes:
            refused = "too_large"
        elif content_type not in limits.allowed_types:
            refused = "type_not_allowed"
        elif sniffed is None or (declared in limits.allowed_types and
                                 declared.split("/")[0] != sniffed.split("/")[0]):
            refused = "type_mismatch"
        elif kept >= limits.max_attachments:
            refused = "too_many"
        if refused is None:
            kept += 1
        checked.append(Attachment(
            filename=repair_text(filename) if filename else None,
            content_type=content_type,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            refused=refused,
            content=data if refused is None else None,
        ))
    return tuple(checked)
