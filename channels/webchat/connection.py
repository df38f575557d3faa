"""`WS /channels/webchat/ws`: hello → welcome (token, history, greeting) → chat (PROTOCOL.md).

The endpoint reads and stores the customer's frames; one task writes the socket's bounded
outbox, which the hub and this reader fill. Nothing a client sends can crash the socket:
every refusal is an `error` frame, except a frame over the size limit (1009) and a missing or
forged hello (4002, 4001)."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from contextlib import suppress
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect
from prometheus_client import Counter
from sqlalchemy import select

from bot.replies import Templates
from channels.webchat.config import WebchatLimits
from channels.webchat.frames import (
    ChatMessage,
    FrameError,
    Hello,
    Ping,
    Typing,
    decode,
    error_frame,
    message_frame,
)
from channels.webchat.hub import TYPING_TOPIC, Connection, publish
from channels.webchat.parser import SessionMessage
from channels.webchat.repository import agent_names, history, open_conversation_id
from channels.webchat.service import WebchatChannel
from channels.webchat.tokens import SessionToken, TokenRefused
from core.conversations import direct, flows
from core.conversations.models import Conversation, Message

log = logging.getLogger(__name__)

CLOSE_TOO_BIG = 1009
CLOSE_SERVER_ERROR = 1011
CLOSE_UNAUTHORIZED = 4001
CLOSE_BAD_HELLO = 4002
CLOSE_TOO_SLOW = 4008
# What the greeting offers as buttons (the bot's own greeting offers the same).
GREETING_CHOICES = ("Report outage", "Outage status", "Balance", "Pay", "Agent")

FRAMES_IN = Counter("stormdesk_webchat_frames_in_total", "Frames received from web chat",
                    ["type"])
REFUSED = Counter("stormdesk_webchat_refused_total", "Web chat frames answered with an error",
                  ["code"])


class FrameTooBig(Exception):
    pass


async def _receive(websocket: WebSocket, limits: WebchatLimits) -> str | bytes:
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    data: str | bytes = message.get("text") if message.get("text") is not None \
        else message.get("bytes") or b""
    size = len(data) if isinstance(data, bytes) or data.isascii() else len(data.encode())
    if size > limits.max_frame_bytes:
        raise FrameTooBig
    return data


async def _close(websocket: WebSocket, code: int, reason: str = "") -> None:
    with suppress(Exception):
        async with asyncio.timeout(2):
            await websocket.close(code=code, reason=reason)


async def serve(websocket: WebSocket, channel: WebchatChannel) -> None:
    limits = channel.limits
    await websocket.accept()
    try:
        async with asyncio.timeout(limits.hello_timeout_s):
            raw = await _receive(websocket, limits)
        hello = decode(raw, limits=limits) if isinstance(raw, str) else None
    except FrameTooBig:
        await _close(websocket, CLOSE_TOO_BIG, "frame too big")
        return
    except (TimeoutError, WebSocketDisconnect, FrameError):
        hello = None
    if not isinstance(hello, Hello):
        await _send_now(websocket, error_frame("bad_hello", "send a hello frame first"))
        await _close(websocket, CLOSE_BAD_HELLO, "send hello first")
        return
    try:
        token = channel.signer.verify(hello.token) if hello.token else None
    except TokenRefused as refused:
        REFUSED.labels("unauthorized").inc()
        await _send_now(websocket, error_frame(
            "unauthorized", f"session token {refused.reason}: start a new session",
            reason=refused.reason))
        await _close(websocket, CLOSE_UNAUTHORIZED, f"token {refused.reason}")
        return
    await Chat(websocket, channel, hello, token).run()


async def _send_now(websocket: WebSocket, frame: dict[str, Any]) -> None:
    with suppress(Exception):
        async with asyncio.timeout(2):
            await websocket.send_text(json.dumps(frame))


class Chat:
    """One connected customer: their session, socket and outbox."""

    def __init__(self, websocket: WebSocket, channel: WebchatChannel, hello: Hello,
                 token: SessionToken | None) -> None:
        self.websocket = websocket
        self.channel = channel
        self.runtime = channel.runtime
        self.limits = channel.limits
        self.hello = hello
        self.resumed = token is not None
        # Same session, fresh expiry: only an abandoned session ever runs out.
        self.token, issued = channel.signer.issue(token.session_id if token else None)
        self.session_id = issued.session_id
        self.expires_at = issued.expires_at
        self.conn = Connection(session_id=self.session_id,
                               outbox=asyncio.Queue(maxsize=self.limits.outbox_max))
        self._typing_at = 0.0

    async def run(self) -> None:
        hub = self.channel.hub
        # Attached before the history is read: a reply stored meanwhile is in one or both
        # (the widget keeps one copy per message id), never in neither.
        hub.attach(self.conn)
        writer: asyncio.Task[None] | None = None
        try:
            welcome = json.dumps(await self._welcome())
            # Started once the welcome exists, which it sends first: anything the hub pushed
            # while the history was read waits in the outbox behind it.
            writer = asyncio.create_task(self._write(welcome),
                                         name=f"webchat-writer-{self.conn.key}")
            await self._read()
        except WebSocketDisconnect:
            pass
        except FrameTooBig:
            await _close(self.websocket, CLOSE_TOO_BIG, "frame too big")
        except Exception:
            log.exception("web chat session %s failed", self.session_id)
            await _close(self.websocket, CLOSE_SERVER_ERROR)
        finally:
            hub.detach(self.conn)
            if writer is not None:
                writer.cancel()
                with suppress(BaseException):
                    await writer

    async def _write(self, welcome: str) -> None:
        await self.websocket.send_text(welcome)
        while True:
            text = await self.conn.outbox.get()
            if text is None:
                log.warning("web chat session %s is not reading; closing it", self.session_id)
                await _close(self.websocket, CLOSE_TOO_SLOW, "too far behind: reconnect")
                return
            await self.websocket.send_text(text)

    async def _welcome(self) -> dict[str, Any]:
        if not self.resumed:  # a session born just now has nothing stored yet
            return self._welcome_frame(current=None, owner=None, messages=[])
        async with self.runtime.sessions() as session:
            current = await open_conversation_id(session, self.session_id)
            rows = await history(session, self.session_id, after_id=self.hello.after,
                                 limit=self.limits.history_limit)
            names = await agent_names(session, {r.conversation_id for r in rows
                                                if r.author == "agent"})
            owner = await session.scalar(select(Conversation.owner).where(
                Conversation.id == current)) if current else None
        if current is not None:
            self.channel.hub.follow(self.session_id, current)
        last_bot = rows[-1].id if rows and rows[-1].direction == "outbound" else None
        return self._welcome_frame(
            current=current, owner=owner,
            messages=[_history_frame(m, names, offer_choices=m.id == last_bot) for m in rows])

    def _welcome_frame(self, *, current: int | None, owner: str | None,
                       messages: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "type": "welcome", "session_id": self.session_id, "token": self.token,
            "expires_at": self.expires_at, "resumed": self.resumed,
            "conversation_id": current, "owner": owner, "messages": messages,
            "greeting": self._greeting(),
            "limits": {"max_text_bytes": self.limits.max_text_bytes,
                       "max_frame_bytes": self.limits.max_frame_bytes,
                       "frames_per_s": self.limits.frames_per_s, "burst": self.limits.burst},
        }

    def _greeting(self) -> dict[str, Any]:
        """The bot's own greeting, shown by the widget and never stored: an empty chat says
        what it can do without a round trip."""
        settings = self.runtime.settings
        reply = Templates(settings.templates_dir).render(
            "greet", language=self.hello.language or "en", channel="webchat", name_part="",
            utility=settings.utility_name)
        return {"text": reply.text, "quick_replies": list(GREETING_CHOICES)}

    async def _read(self) -> None:
        while True:
            raw = await _receive(self.websocket, self.limits)
            wait = await self.runtime.limiter.try_acquire(
                f"webchat:conn:{self.conn.key}", rate=self.limits.frames_per_s,
                burst=self.limits.burst)
            if wait > 0:
                # Rounded up, never to 0: a wait under 5 ms must not tell the widget to
                # retry at once (it would spin; CI once saw 0.0 here).
                self._refuse(FrameError("slow_down", "too many frames: wait a moment"),
                             retry_after_s=math.ceil(wait * 100) / 100)
                continue
            if isinstance(raw, bytes):
                self._refuse(FrameError("bad_frame", "frames are JSON text"))
                continue
            try:
                frame = decode(raw, limits=self.limits)
            except FrameError as error:
                self._refuse(error)
                continue
            FRAMES_IN.labels(type(frame).__name__.lower()).inc()
            if isinstance(frame, ChatMessage):
                await self._store(frame)
            elif isinstance(frame, Typing):
                await self._typing(frame)
            elif isinstance(frame, Ping):
                self.conn.send({"type": "pong", "ref": frame.ref} if frame.ref is not None
                               else {"type": "pong"})
            else:
                self._refuse(FrameError("bad_frame", "hello was already said"))

    def _refuse(self, error: FrameError, **extra: Any) -> None:
        REFUSED.labels(error.code).inc()
        self.conn.send(error_frame(error.code, error.message, ref=error.ref, **extra))

    async def _store(self, frame: ChatMessage) -> None:
        """Through the same intake as every channel; acknowledged once it is committed."""
        inbound = self.channel.parser.parse(SessionMessage(self.session_id, frame))
        try:
            result = await flows.intake(self.runtime, inbound,
                                        handle_here=direct.handle_here(self.runtime))
        except Exception:
            log.exception("web chat message of session %s not stored", self.session_id)
            self._refuse(FrameError("unavailable", "not stored: send it again",
                                    ref=frame.client_id))
            return
        hub = self.channel.hub
        hub.follow(self.session_id, result.conversation_id)
        self.conn.send({"type": "ack", "id": frame.client_id, "message_id": result.message_id,
                        "conversation_id": result.conversation_id,
                        "duplicate": not result.created})
        if result.created:
            # The session's other tabs show it too (this one already does).
            await publish(self.runtime, self.session_id, message_frame(
                message_id=result.message_id, author="customer", text=inbound.text,
                at=inbound.received_at, client_id=frame.client_id),
                conversation_id=result.conversation_id, origin=self.conn.key)

    async def _typing(self, frame: Typing) -> None:
        """Forwarded to the agent's console at most every `typing_every_s`."""
        now = time.monotonic()
        conversation_id = self.conn.conversation_id
        if not frame.on or conversation_id is None \
                or now - self._typing_at < self.limits.typing_every_s:
            return
        self._typing_at = now
        await self.runtime.bus.publish(TYPING_TOPIC, {"conversation_id": conversation_id,
                                                      "who": "customer"})


def _history_frame(message: Message, names: dict[int, str], *,
                   offer_choices: bool) -> dict[str, Any]:
    """A stored message as the widget shows it; only the last bot message keeps its buttons."""
    return message_frame(
        message_id=message.id, author=message.author, text=message.body,
        at=message.created_at,
        quick_replies=(message.quick_replies or ()) if offer_choices else (),
        media=[m.get("url", "") for m in message.media or ()],
        agent_name=names.get(message.conversation_id) if message.author == "agent" else None)
