"""The web chat channel's parts, built once per app: limits, token signer, parser, the
per-process hub and the sender; and `webchat_channel`, which runs them for the app's life."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

from channels.webchat.config import WebchatLimits, limits_of
from channels.webchat.hub import WebchatHub
from channels.webchat.identity import on_reply_recorded
from channels.webchat.parser import CHANNEL, WebchatParser
from channels.webchat.sender import WebchatSender
from channels.webchat.tokens import SessionSigner
from core.conversations.events import ReplyRecorded
from core.runtime import Runtime

log = logging.getLogger(__name__)

EXTRA_KEY = "webchat_channel"


class WebchatChannel:
    def __init__(self, runtime: Runtime, *, limits: WebchatLimits | None = None) -> None:
        self.runtime = runtime
        self.limits = limits or limits_of(runtime)
        self.signer = SessionSigner(runtime.settings.secret_key.get_secret_value(),
                                    ttl_s=self.limits.session_ttl_s)
        self.parser = WebchatParser()
        self.hub = WebchatHub(runtime)
        found = runtime.extras.get("senders", {}).get(CHANNEL)
        self.sender = found if isinstance(found, WebchatSender) else register_sender(runtime)


def register_sender(runtime: Runtime) -> WebchatSender:
    """Put the web chat sender in the runtime's sender table: every process that delivers
    replies needs it (API processes in embedded mode, `stormdesk worker` in production, so the
    composition root calls this in build_runtime); it only publishes on the bus, so it needs
    no socket or hub of its own."""
    sender = WebchatSender(runtime)
    runtime.extras.setdefault("senders", {})[CHANNEL] = sender
    table = runtime.extras.get("sender_table")
    if table is not None and CHANNEL not in table:
        log.error("the sender table was built before the web chat sender was registered: chat "
                  "replies will not be sent (register it before the pipeline starts)")
    return sender


def channel_of(runtime: Runtime) -> WebchatChannel:
    found = runtime.extras.get(EXTRA_KEY)
    if found is None:
        raise LookupError("the web chat channel is not running (stormdesk/hooks.py starts it)")
    return found


Handler = Callable[[dict[str, Any]], Awaitable[None]]


async def _listen(runtime: Runtime, topic: str, handler: Handler, ready: asyncio.Event) -> None:
    async with runtime.bus.subscribe(topic) as events:
        ready.set()
        async for payload in events:
            try:
                await handler(payload)
            except Exception:  # one bad event must not stop the channel listening
                log.exception("web chat listener for %s failed", topic)


@asynccontextmanager
async def webchat_channel(runtime: Runtime) -> AsyncIterator[WebchatChannel]:
    """Register the sender (before the pipeline builds its sender table), run the hub and the
    verification listener; yield once both are subscribed."""
    channel = WebchatChannel(runtime)
    runtime.extras[EXTRA_KEY] = channel
    listening = asyncio.Event()
    tasks = [asyncio.create_task(channel.hub.run(), name="webchat-hub"),
             asyncio.create_task(_listen(runtime, ReplyRecorded.topic,
                                         lambda p: on_reply_recorded(runtime, p), listening),
                                 name="webchat-identity")]
    try:
        ready = asyncio.gather(channel.hub.ready.wait(), listening.wait())
        done, _ = await asyncio.wait([ready, *tasks], return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:  # a task died while starting: surface its error
            ready.cancel()
            for task in done:
                task.result()
        yield channel
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError, Exception):
                await task
        runtime.extras.pop(EXTRA_KEY, None)
