"""A Rasa server that is up but slow: /model/parse answers only after `delay_s`."""

from __future__ import annotations

import asyncio
import contextlib
import json

from chaos.harness import free_port


class SlowRasa:
    def __init__(self, *, delay_s: float) -> None:
        self.delay_s = delay_s
        self.port = free_port()
        self.calls = 0
        self._server: asyncio.AbstractServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Cancelled at shutdown mid-delay: end quietly (the client gave up long ago).
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, asyncio.CancelledError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if length:
                    await reader.readexactly(length)
                self.calls += 1
                await asyncio.sleep(self.delay_s)
                body = json.dumps({"text": "", "intent": {"name": "greet", "confidence": 0.99},
                                   "entities": []}).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
                await writer.drain()
        writer.close()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
