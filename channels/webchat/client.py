"""A Python client for the web chat protocol (PROTOCOL.md), for scripts, the tests and the
benchmark; browsers use widget.js. It keeps every frame it has seen, in order."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

Frame = dict[str, Any]


class ChatClient:
    def __init__(self, ws: ClientConnection, welcome: Frame) -> None:
        self.ws = ws
        self.welcome = welcome
        self.token: str = welcome["token"]
        self.session_id: str = welcome["session_id"]
        self.frames: list[Frame] = []
        self._taken: set[int] = set()  # indexes of frames a wait_for already returned

    @classmethod
    async def connect(cls, url: str, *, token: str | None = None, after: int = 0,
                      lang: str | None = None, open_timeout: float = 10.0,
                      **options: Any) -> ChatClient:
        """Open `ws://…/channels/webchat/ws`, say hello, return once welcomed.

        Raises ChatRefused with the server's error frame and close code if it refuses."""
        ws = await connect(url, open_timeout=open_timeout, **options)
        hello: Frame = {"type": "hello"}
        if token:
            hello["token"] = token
        if after:
            hello["after"] = after
        if lang:
            hello["lang"] = lang
        await ws.send(json.dumps(hello))
        try:
            first = json.loads(await asyncio.wait_for(ws.recv(), open_timeout))
        except Exception as exc:
            await ws.close()
            raise ChatRefused(None, ws.close_code) from exc
        if first.get("type") != "welcome":
            await ws.wait_closed()
            raise ChatRefused(first, ws.close_code)
        return cls(ws, first)

    @property
    def history(self) -> list[Frame]:
        return list(self.welcome.get("messages") or [])

    async def send(self, text: str, *, client_id: str | None = None) -> str:
        """Send a chat message; returns its client id (pass the same id to resend it)."""
        client_id = client_id or uuid.uuid4().hex
        await self.ws.send(json.dumps({"type": "message", "id": client_id, "text": text}))
        return client_id

    async def send_frame(self, frame: Frame | str) -> None:
        await self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))

    async def recv(self, timeout: float = 10.0) -> Frame:
        frame = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        self.frames.append(frame)
        return frame

    async def wait_for(self, kind: str, *, timeout: float = 10.0,
                       where: Callable[[Frame], bool] | None = None, **match: Any) -> Frame:
        """The first frame of `kind` not returned before whose fields equal `match`."""
        def fits(frame: Frame) -> bool:
            return (frame.get("type") == kind and all(frame.get(k) == v for k, v in match.items())
                    and (where is None or where(frame)))

        for index, frame in enumerate(self.frames):
            if index not in self._taken and fits(frame):
                self._taken.add(index)
                return frame
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.recv(timeout)
                if fits(frame):
                    self._taken.add(len(self.frames) - 1)
                    return frame

    async def ask(self, text: str, *, timeout: float = 10.0) -> list[Frame]:
        """Send `text` and return the utility's answers to it: every bot or agent message
        frame up to the first one that offers no further message within a short quiet."""
        client_id = await self.send(text)
        ack = await self.wait_for("ack", id=client_id, timeout=timeout)
        answers = [await self.reply(after=ack["message_id"], timeout=timeout)]
        while True:
            try:
                answers.append(await self.reply(after=ack["message_id"], timeout=0.3))
            except TimeoutError:
                return answers

    async def reply(self, *, after: int = 0, timeout: float = 10.0) -> Frame:
        """The next message from the utility (bot or agent) with an id above `after`."""
        return await self.wait_for(
            "message", timeout=timeout,
            where=lambda f: f.get("author") != "customer" and int(f.get("id") or 0) > after)

    async def close(self) -> None:
        await self.ws.close()


class ChatRefused(Exception):
    def __init__(self, frame: Frame | None, close_code: int | None) -> None:
        super().__init__(f"refused with {close_code}: {frame}")
        self.frame = frame or {}
        self.close_code = close_code
