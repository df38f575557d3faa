"""Replies on web chat: the OutboundSender (channels/base.py) for channel "webchat".

Sending is publishing a `message` frame for the session on the event bus; the API process
that holds the customer's socket pushes it (hub.py). Nobody connected is not a failure: the
reply is stored, and the widget gets it in its history when it comes back. So the status is
`sent` (handed to the session), never `delivered`, which we cannot know."""

from __future__ import annotations

from sqlalchemy import select

from channels.webchat.frames import message_frame
from channels.webchat.hub import publish
from channels.webchat.parser import session_of
from channels.webchat.repository import agent_names
from core.conversations.models import Message
from core.conversations.schemas import Outgoing, SendFailed, SendReceipt
from core.runtime import Runtime


class WebchatSender:
    """Buttons and media go out as they are: the widget shows them (no text fallback)."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    async def send_text(self, outgoing: Outgoing) -> SendReceipt:
        session_id = session_of(outgoing.to)
        if session_id is None:
            raise SendFailed(f"{outgoing.to!r} is not a web chat address", code="bad_address",
                             permanent=True)
        async with self._runtime.sessions() as session:
            row = (await session.execute(
                select(Message.author, Message.created_at, Message.conversation_id)
                .where(Message.id == outgoing.message_id))).one_or_none()
            if row is None:
                raise SendFailed("the message to send is gone", code="missing", permanent=True)
            names = await agent_names(session, {row.conversation_id}) \
                if row.author == "agent" else {}
        frame = message_frame(message_id=outgoing.message_id, author=row.author,
                              text=outgoing.text, at=row.created_at,
                              quick_replies=outgoing.quick_replies, media=outgoing.media_urls,
                              agent_name=names.get(row.conversation_id))
        await publish(self._runtime, session_id, frame, conversation_id=row.conversation_id)
        return SendReceipt(external_id=None, status="sent")

    async def send_quick_replies(self, outgoing: Outgoing) -> SendReceipt:
        return await self.send_text(outgoing)

    async def send_media(self, outgoing: Outgoing) -> SendReceipt:
        return await self.send_text(outgoing)
