"""Background work started with the app (embedded mode runs its workers in-process)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from channels import pipeline
from core.runtime import Runtime


@asynccontextmanager
async def started(runtime: Runtime) -> AsyncIterator[None]:
    async with AsyncExitStack() as stack:
        # Later issues register their workers and listeners here.
        _ = (stack, runtime)
        await stack.enter_async_context(pipeline.serving(runtime))
        yield
