"""A TCP proxy to one server that can go dark: `cut()` drops every connection through it and
refuses new ones until `restore()`, like a database or cache host that vanished from the
network. The chaos drills and the dependency-outage tests both put one in front of
PostgreSQL or Redis, so the server itself keeps running for everything else on the machine."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Self
from urllib.parse import urlsplit, urlunsplit


class Blackout:
    def __init__(self, host: str = "127.0.0.1", port: int = 5432) -> None:
        self.upstream = (host, port)
        self.dark = False
        self.port = 0  # ours, known once started
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()

    @classmethod
    def to(cls, url: str) -> Self:
        parts = urlsplit(url)
        return cls(parts.hostname or "127.0.0.1", parts.port or 0)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._link, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    def via(self, url: str) -> str:
        """`url` with its host and port replaced by this proxy's."""
        parts = urlsplit(url)
        user = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
        return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{self.port}"))

    def cut(self) -> None:
        self.dark = True
        for link in list(self._links):
            link.transport.abort()
        self._links.clear()

    def restore(self) -> None:
        self.dark = False

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.dark:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:  # the upstream itself is down: the client sees a refused link
            writer.transport.abort()
            return
        self._links.update((writer, up_writer))

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()
            self._links.discard(dst)

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
