"""HTTP for email: SendGrid Inbound Parse in, stored attachments out to the console.

The webhook verifies (basic auth), reads, stores, acknowledges (STYLE 4); the bot's work runs
after, on the pipeline's queue. Nothing is read or stored before the credentials pass.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from channels.email.inbound_parse import parse_form
from channels.email.parse import MessageTooLarge, sniff_type
from channels.email.service import EXTRA_KEY, EmailChannel
from core.enums import Role
from core.errors import NotFound, Unavailable
from core.http import RuntimeDep, require_role

router = APIRouter(prefix="/channels/email", tags=["email"])

REALM = 'Basic realm="stormdesk-email-inbound", charset="UTF-8"'
# Form encoding adds boundaries and field headers around the message itself.
FORM_OVERHEAD = 256 * 1024


async def channel_of(runtime: RuntimeDep) -> EmailChannel:
    channel = runtime.extras.get(EXTRA_KEY)
    if channel is None:
        raise Unavailable("the email channel is not running")
    return channel


Channel = Annotated[EmailChannel, Depends(channel_of)]


async def verify_inbound_auth(request: Request, runtime: RuntimeDep) -> None:
    """HTTP basic auth with the configured secret. SendGrid sends it from the credentials in
    the Inbound Parse URL (https://user:secret@host/channels/email/inbound)."""
    settings = runtime.settings
    if not settings.email_inbound_user or settings.email_inbound_password is None:
        raise HTTPException(403, "inbound email is not configured on this server")
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        user = password = ""
    # Both compared, always: the time taken says nothing about which half was wrong.
    user_ok = hmac.compare_digest(user.encode(), settings.email_inbound_user.encode())
    password_ok = hmac.compare_digest(
        password.encode(), settings.email_inbound_password.get_secret_value().encode())
    if scheme.lower() != "basic" or not (user_ok and password_ok):
        raise HTTPException(401, "credentials required", headers={"WWW-Authenticate": REALM})


@router.post("/inbound", dependencies=[Depends(verify_inbound_auth)])
async def inbound_parse(request: Request, channel: Channel) -> dict[str, object]:
    """SendGrid Inbound Parse (parsed or raw mode): 200 once the email is stored or set aside
    as machine-written; SendGrid retries anything else."""
    limits = channel.config.limits
    body = await _read_capped(request, limits.max_message_bytes + FORM_OVERHEAD)
    post = parse_form(request.headers.get("content-type", ""), body, limits=limits)
    received = await channel.receive(post.email, envelope_from=post.envelope_from,
                                     envelope_to=post.envelope_to)
    return {"outcome": received.outcome, "message_id": received.message_id,
            "conversation_id": received.conversation_id,
            "machine": received.machine.kind if received.machine else None}


async def _read_capped(request: Request, limit: int) -> bytes:
    """The body, refusing it as soon as it passes `limit`, never buffering more."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise MessageTooLarge("request body over the size limit", limit=limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise MessageTooLarge("request body over the size limit", limit=limit)
        chunks.append(chunk)
    return b"".join(chunks)


@router.get("/attachments/{digest}",
            dependencies=[Depends(require_role(Role.AGENT, Role.SUPERVISOR))])
async def attachment(digest: str, channel: Channel) -> Response:
    """A stored attachment for the console. Served as a download, never rendered inline."""
    data = await channel.store.attachment(digest)
    if data is None:
        raise NotFound("no such attachment")
    return Response(data, media_type=sniff_type(data) or "application/octet-stream", headers={
        "Content-Disposition": f'attachment; filename="{digest[:16]}"',
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, max-age=3600",
    })
