"""TwiML answers, built by the twilio package (never by hand: it escapes the body)."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import Response
from twilio.twiml.messaging_response import MessagingResponse

from channels.base import text_fallback
from core.conversations.schemas import InlineReply, Outgoing

TWIML = "application/xml"


def messaging_twiml(replies: Sequence[InlineReply], *, status_url: str | None = None) -> Response:
    """<Response> with one <Message> per reply; empty means "nothing to say now".

    Each <Message> gets an `action` URL carrying our message id: Twilio posts the new
    message's sid and status there, which is how an inline reply gets tracked like a REST one."""
    twiml = MessagingResponse()
    for reply in replies:
        outgoing = text_fallback(Outgoing(
            message_id=reply.id, channel=reply.channel, to=reply.recipient, from_=reply.sender,
            text=reply.body, media_urls=tuple(m["url"] for m in reply.media or ()),
            quick_replies=tuple(reply.quick_replies or ())), media=False)
        action = f"{status_url}?m={reply.id}" if status_url else None
        message = twiml.message(action=action, method="POST" if action else None)
        message.body(outgoing.text)
        for url in outgoing.media_urls:
            message.media(url)
    return Response(content=str(twiml), media_type=TWIML)
