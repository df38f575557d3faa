"""Background work started with the app (embedded mode runs its workers in-process)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from agent_console.startup import console_running
from channels import pipeline
from channels.email.service import email_channel
from channels.webchat import webchat_channel
from core.runtime import Runtime
from integrations.email import build_transport
from stormdesk.worker import storm_serving


@asynccontextmanager
async def started(runtime: Runtime) -> AsyncIterator[None]:
    async with AsyncExitStack() as stack:
        # Later issues register their workers and listeners here.
        _ = (stack, runtime)
        # Before the pipeline: its sender table is built once, from the senders registered.
        await stack.enter_async_context(
            email_channel(runtime, transport=build_transport(runtime.settings)))
        await stack.enter_async_context(webchat_channel(runtime))
        await stack.enter_async_context(pipeline.serving(runtime))
        await stack.enter_async_context(console_running(runtime))
        await stack.enter_async_context(storm_serving(runtime))
        yield
