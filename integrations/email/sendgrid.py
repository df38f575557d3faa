"""Outbound mail through SendGrid's v3 `mail/send` (JSON, not MIME).

Vendor quirks, where they bite:
- The API takes fields, not a MIME message: we lift From/To/Subject and the text and HTML
  parts out of the message channels/email composed, and pass every other header we set
  (Message-ID, In-Reply-To, References, Auto-Submitted…) in `headers`.
- SendGrid refuses some headers in `headers` (From, To, Subject, Content-Type…): those go
  in their own fields and never in `headers`, or the whole request fails with 400.
- We send our own Message-ID in `headers` (it must be a full "<id@domain>"; a bare token
  comes out mangled). The 202 answer's X-Message-Id is SendGrid's internal id, only the
  first part of the Message-ID it would stamp itself, so it cannot stand in for ours. If a
  relay replaced our id anyway, a customer's reply still files by their address
  (channels/email/threading.py); only the In-Reply-To link to that one reply is lost.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any

import httpx

from core.conversations.schemas import SendFailed

_OWN_FIELDS = frozenset({
    "from", "to", "cc", "bcc", "reply-to", "subject", "content-type",
    "content-transfer-encoding", "mime-version", "date", "received", "dkim-signature",
    "x-sg-id", "x-sg-eid",
})


class SendGridTransport:
    """`base_url` points elsewhere for a regional endpoint (api.eu.sendgrid.com) or a test's
    fake; `http_transport` lets a test serve that fake in-process."""

    def __init__(self, *, api_key: str, base_url: str = "https://api.sendgrid.com",
                 timeout: float = 15.0,
                 http_transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), timeout=timeout, transport=http_transport,
            headers={"Authorization": f"Bearer {api_key}"},
        )

    async def send(self, message: EmailMessage) -> str | None:
        try:
            response = await self._client.post("/v3/mail/send", json=payload_for(message))
        except httpx.TimeoutException as fault:
            raise SendFailed(f"SendGrid timed out: {fault}", code="timeout") from fault
        except httpx.HTTPError as fault:
            raise SendFailed(f"SendGrid unreachable: {fault}", code="network") from fault
        if response.status_code in (200, 202):
            return response.headers.get("x-message-id")
        detail = _error_text(response)
        # 429 and 5xx pass; anything else is about this request or our key and will not.
        transient = response.status_code == 429 or response.status_code >= 500
        raise SendFailed(f"SendGrid said {response.status_code}: {detail}",
                         code=str(response.status_code), permanent=not transient)

    async def close(self) -> None:
        await self._client.aclose()


def payload_for(message: EmailMessage) -> dict[str, Any]:
    """The v3 mail/send body for a composed message."""
    sender = getaddresses([str(message["From"])])[0]
    recipients = [{"email": a} | ({"name": n} if n else {})
                  for n, a in getaddresses([str(v) for v in message.get_all("To", [])]) if a]
    content: list[dict[str, str]] = []
    for subtype in ("plain", "html"):  # SendGrid wants text/plain before text/html
        part = message.get_body(preferencelist=(subtype,))
        if part is not None and part.get_content_type() == f"text/{subtype}":
            content.append({"type": f"text/{subtype}", "value": part.get_content()})
    body: dict[str, Any] = {
        "personalizations": [{"to": recipients}],
        "from": {"email": sender[1]} | ({"name": sender[0]} if sender[0] else {}),
        "subject": str(message["Subject"] or ""),
        "content": content,
    }
    headers = {name: " ".join(str(value).split()) for name, value in message.items()
               if name.lower() not in _OWN_FIELDS}
    if headers:
        body["headers"] = headers
    reply_to = message["Reply-To"]
    if reply_to:
        body["reply_to"] = {"email": getaddresses([str(reply_to)])[0][1]}
    return body


def _error_text(response: httpx.Response) -> str:
    try:
        errors = response.json().get("errors") or []
        return "; ".join(str(e.get("message", e)) for e in errors) or response.text[:200]
    except ValueError:
        return response.text[:200]
