"""Per-process fan-out to the chat sockets connected to this process.

Whatever process stores a reply (a worker, the API process an agent used), the reply is
published on the event bus for its session; every API process holds one subscription and
pushes the frame to its own sockets of that session. One subscription per process, not per
session: the Redis bus holds a connection per subscription, and a process holds thousands of
idle chats (STYLE 7). Typing from the console arrives the same way, by conversation.

Each socket has a bounded outbox; the hub only ever `put_nowait`s, so a browser that stops
reading fills its own outbox, is closed (4008) and resumes with its history on reconnect."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Counter, Gauge

from core.runtime import Runtime

log = logging.getLogger(__name__)

PUSH_TOPIC = "webchat.push"
# Shared with the console (agent_console/actions.py TYPING_TOPIC): {"conversation_id", "who"}.
TYPING_TOPIC = "conversations.typing"

CONNECTIONS = Gauge("stormdesk_webchat_connections", "Web chat sockets open in this process")
PUSHED = Counter("stormdesk_webchat_pushed_total", "Frames pushed to web chat sockets", ["type"])
DROPPED = Counter("stormdesk_webchat_dropped_total", "Web chat sockets closed for not reading")


async def publish(runtime: Runtime, session_id: str, frame: dict[str, Any], *,
                  conversation_id: int | None = None, origin: str | None = None) -> None:
    """From any process (a worker, an API process): every process's hub hears it."""
    await runtime.bus.publish(PUSH_TOPIC, {
        "session_id": session_id, "conversation_id": conversation_id, "frame": frame,
        "origin": origin})


@dataclass(eq=False, slots=True)
class Connection:
    """One socket: its session, the conversation it is in now, its bounded outbox of JSON.

    A None in the outbox tells the writer to close the socket as too slow."""

    session_id: str
    outbox: asyncio.Queue[str | None]
    conversation_id: int | None = None
    dropped: bool = False
    # Names this socket in the echo of its own messages, which it already shows.
    key: str = field(default_factory=lambda: secrets.token_hex(8))

    def push(self, text: str) -> bool:
        if self.dropped:
            return False
        try:
            self.outbox.put_nowait(text)
        except asyncio.QueueFull:
            self.dropped = True
            DROPPED.inc()
            while not self.outbox.empty():
                self.outbox.get_nowait()
            self.outbox.put_nowait(None)
            return False
        return True

    def send(self, frame: dict[str, Any]) -> bool:
        return self.push(json.dumps(frame))


class WebchatHub:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._by_session: dict[str, set[Connection]] = {}
        self._by_conversation: dict[int, set[Connection]] = {}
        self.ready = asyncio.Event()
        self.pushed = 0  # frames handed to sockets (tests, bench)

    # -- sockets -------------------------------------------------------------------------

    def attach(self, conn: Connection) -> None:
        self._by_session.setdefault(conn.session_id, set()).add(conn)
        if conn.conversation_id is not None:
            self._by_conversation.setdefault(conn.conversation_id, set()).add(conn)
        CONNECTIONS.inc()

    def detach(self, conn: Connection) -> None:
        _discard(self._by_session, conn.session_id, conn)
        if conn.conversation_id is not None:
            _discard(self._by_conversation, conn.conversation_id, conn)
        CONNECTIONS.dec()

    def follow(self, session_id: str, conversation_id: int) -> None:
        """The session writes in `conversation_id` now (a closed one was replaced)."""
        for conn in self._by_session.get(session_id, ()):
            if conn.conversation_id != conversation_id:
                if conn.conversation_id is not None:
                    _discard(self._by_conversation, conn.conversation_id, conn)
                conn.conversation_id = conversation_id
                self._by_conversation.setdefault(conversation_id, set()).add(conn)

    def connections(self) -> int:
        return sum(len(members) for members in self._by_session.values())

    # -- delivery (this process) -----------------------------------------------------------

    def deliver(self, session_id: str, frame: dict[str, Any], *,
                conversation_id: int | None = None, origin: str | None = None) -> int:
        members = self._by_session.get(session_id)
        if not members:
            return 0
        if conversation_id is not None:
            self.follow(session_id, conversation_id)
        text = json.dumps(frame)
        sent = sum(1 for conn in tuple(members) if conn.key != origin and conn.push(text))
        self.pushed += sent
        PUSHED.labels(str(frame.get("type"))).inc(sent)
        return sent

    def deliver_typing(self, conversation_id: int, who: str) -> int:
        members = self._by_conversation.get(conversation_id)
        if not members or who != "agent":
            return 0
        text = json.dumps({"type": "typing", "who": who, "on": True})
        sent = sum(1 for conn in tuple(members) if conn.push(text))
        PUSHED.labels("typing").inc(sent)
        return sent

    async def run(self) -> None:
        """Subscribe, then deliver until cancelled."""
        bus = self._runtime.bus
        async with bus.subscribe(PUSH_TOPIC) as pushes, bus.subscribe(TYPING_TOPIC) as typing:
            self.ready.set()
            async with asyncio.TaskGroup() as group:
                group.create_task(self._consume_pushes(pushes))
                group.create_task(self._consume_typing(typing))

    async def _consume_pushes(self, events: Any) -> None:
        async for payload in events:
            try:
                conversation = payload.get("conversation_id")
                self.deliver(str(payload["session_id"]), dict(payload["frame"]),
                             conversation_id=int(conversation) if conversation else None,
                             origin=payload.get("origin"))
            except (KeyError, TypeError, ValueError):
                log.warning("web chat push without a session or frame: %r", payload)

    async def _consume_typing(self, events: Any) -> None:
        async for payload in events:
            try:
                self.deliver_typing(int(payload["conversation_id"]), str(payload.get("who")))
            except (KeyError, TypeError, ValueError):
                log.warning("typing event without a conversation: %r", payload)


def _discard(index: dict[Any, set[Connection]], key: Any, conn: Connection) -> None:
    members = index.get(key)
    if members is not None:
        members.discard(conn)
        if not members:
            del index[key]
