"""SendGrid Inbound Parse's multipart form → ParsedEmail.

Vendor quirks, where they bite:
- Text fields come in whatever charset the mail used, and the form does not say so per part:
  the `charsets` field (JSON, e.g. {"text": "iso-8859-1", "subject": "UTF-8"}) does. A form
  parser that decodes every field as UTF-8 garbles them, so we read the form as bytes with
  the stdlib MIME parser and decode each field with the charset SendGrid named.
- With "POST the raw, full MIME message" on, the whole message arrives in one `email` field
  and none of text/html/attachmentN; the raw path is the better one (real threading headers,
  DSN structure intact), and both are accepted.
- `envelope` is JSON {"to": [...], "from": "..."}: the SMTP envelope, where a bounce shows
  its null sender.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from email import policy
from email.errors import MessageError
from email.message import Message
from email.parser import BytesParser

from channels.email.charsets import decode_bytes
from channels.email.parse import EmailLimits, ParsedEmail, assemble, parse_headers, parse_raw
from core.errors import Invalid

_FORM_PARSER = BytesParser(policy=policy.compat32)


@dataclass(frozen=True, slots=True)
class InboundPost:
    """One Inbound Parse post: the email and its SMTP envelope."""

    email: ParsedEmail
    envelope_from: str | None
    envelope_to: tuple[str, ...]


def parse_form(content_type: str, body: bytes, *, limits: EmailLimits) -> InboundPost:
    """Read SendGrid's multipart/form-data post, raw or parsed mode."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise Invalid("Inbound Parse posts multipart/form-data")
    form = _FORM_PARSER.parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
    if not form.is_multipart():
        raise Invalid("the form has no parts")
    fields: dict[str, bytes] = {}
    files: list[Message] = []
    for part in form.get_payload():
        assert isinstance(part, Message)
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        if part.get_filename() is not None or name.startswith("attachment") and name[10:].isdigit():
            files.append(part)
        else:
            payload = part.get_payload(decode=True)
            fields[name] = payload if isinstance(payload, bytes) else b""

    # The JSON side fields are trusted for nothing: a shape other than SendGrid's is ignored
    # (a 500 here would make SendGrid retry the same broken post for days).
    charsets = _json(fields.get("charsets"), {})
    charsets = {k: v for k, v in charsets.items() if isinstance(v, str)} if isinstance(
        charsets, dict) else {}
    envelope = _json(fields.get("envelope"), {})
    envelope = envelope if isinstance(envelope, dict) else {}
    envelope_from = envelope.get("from")
    to = envelope.get("to")
    to = [to] if isinstance(to, str) else to if isinstance(to, list) else []
    envelope_to = tuple(a for a in to if isinstance(a, str))

    if "email" in fields:
        email = parse_raw(fields["email"], limits=limits)
    else:
        email = _assemble(fields, files, charsets, size=len(body), limits=limits)
    return InboundPost(email=email,
                       envelope_from=envelope_from if isinstance(envelope_from, str) else None,
                       envelope_to=envelope_to)


def _assemble(fields: dict[str, bytes], files: list[Message], charsets: dict[str, str], *,
              size: int, limits: EmailLimits) -> ParsedEmail:
    def text(name: str) -> str | None:
        data = fields.get(name)
        return None if data is None else decode_bytes(data, charsets.get(name))

    headers = parse_headers(fields.get("headers", b""))
    # The header block is the authority; the loose fields only fill what it lacks.
    for name in ("from", "to", "subject"):
        value = text(name)
        if value and headers.get(name) is None:
            try:
                # One line, as a header is: a CR or LF in a loose field made the stdlib raise.
                headers[name] = " ".join(value.split())
            except (ValueError, IndexError, MessageError):
                continue  # the stdlib cannot parse it as a header; the field is a fallback
    attachments: list[tuple[str | None, str, bytes]] = []
    info = _json(fields.get("attachment-info"), {})
    for part in files:
        name = str(part.get_param("name", header="content-disposition") or "")
        meta = info.get(name, {}) if isinstance(info, dict) else {}
        meta = meta if isinstance(meta, dict) else {}
        payload = part.get_payload(decode=True)
        attachments.append((
            meta["filename"] if isinstance(meta.get("filename"), str) and meta["filename"]
            else part.get_filename(),
            str(meta.get("type") or part.get_content_type()),
            payload if isinstance(payload, bytes) else b"",
        ))
    return assemble(headers, text=text("text"), html=text("html"), files=attachments,
                    size=size, limits=limits)


def _json(data: bytes | None, default: object) -> object:
    if not data:
        return default
    try:
        return json.loads(decode_bytes(data, "utf-8"))
    except ValueError:
        return default
