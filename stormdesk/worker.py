"""Storm and notice wiring for the composition root: what goes in runtime.extras, the
background work a `stormdesk worker` runs beside the message pipeline, and the same work
inside the API process in embedded mode."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Mapping
from typing import Any

from channels import pipeline
from channels.email.service import email_channel
from core.conversations.consumer import consumer_name
from core.notifications.policy import NoticePolicy
from core.notifications.ports import NoticeSender
from core.notifications.workers import run_notice_workers, run_relay, run_senders
from core.runtime import Runtime
from core.storm.mode import StormMode
from core.storm.monitor import run_monitor
from core.storm.picture import OutagePicture
from core.storm.policy import StormPolicy
from integrations.email import build_transport
from integrations.notices import build_notice_senders

log = logging.getLogger(__name__)


def install_storm(runtime: Runtime) -> None:
    """runtime.extras: "storm" (and "storm_switch", the console's toggle, the same object),
    "outage_picture", "notice_policy", "notice_senders". Before the console's hooks."""
    storm_policy = StormPolicy.from_env()
    storm = StormMode(runtime, storm_policy)
    runtime.extras["storm"] = storm
    runtime.extras["storm_switch"] = storm
    runtime.extras["outage_picture"] = OutagePicture(runtime.sessions,
                                                     ttl_s=storm_policy.picture_ttl_s)
    runtime.extras["notice_policy"] = NoticePolicy.from_settings(runtime.settings)
    runtime.extras["notice_senders"] = build_notice_senders(runtime.settings,
                                                            limiter=runtime.limiter)


def notice_senders(runtime: Runtime) -> Mapping[str, NoticeSender]:
    """Text senders from our table; email through the email channel's sender when it runs."""
    senders: dict[str, Any] = dict(runtime.extras.get("notice_senders") or {})
    email = (runtime.extras.get("senders") or {}).get("email")
    if email is not None:
        senders.setdefault("email", email)
    return senders


async def run_storm_work(runtime: Runtime, stop: asyncio.Event, *, relay: bool = True,
                         send: bool = True) -> None:
    """Relay + senders + the storm monitor, until `stop`."""
    policy: NoticePolicy = runtime.extras["notice_policy"]
    storm: StormMode = runtime.extras["storm"]
    jobs = [run_monitor(storm, stop)]
    senders = notice_senders(runtime)
    if relay and send:
        jobs.append(run_notice_workers(runtime, policy, senders, stop))
    elif relay:
        jobs.append(run_relay(runtime, policy, stop))
    elif send:
        jobs.append(run_senders(runtime, policy, senders, stop))
    await asyncio.gather(*jobs)


@contextlib.asynccontextmanager
async def storm_serving(runtime: Runtime) -> AsyncIterator[None]:
    """For the API process: in embedded mode the notice workers and monitor run here."""
    if "storm" not in runtime.extras:
        install_storm(runtime)
    stop = asyncio.Event()
    task = (asyncio.create_task(run_storm_work(runtime, stop), name="storm-work")
            if runtime.settings.embedded else None)
    try:
        yield
    finally:
        stop.set()
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)


async def work(runtime: Runtime, *, concurrency: int = 32, messages: bool = True,
               notices: bool = True) -> None:
    """`stormdesk worker`: the message pipeline and the notice side, until SIGTERM/SIGINT."""
    if "storm" not in runtime.extras:
        install_storm(runtime)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    log.info("worker %s started (messages=%s, notices=%s)", consumer_name("worker"), messages,
             notices)
    jobs = []
    async with contextlib.AsyncExitStack() as stack:
        # Email replies and email notices need the email channel's sender (no listener here:
        # it only listens in embedded development).
        await stack.enter_async_context(
            email_channel(runtime, transport=build_transport(runtime.settings)))
        if messages:
            jobs.append(pipeline.run_workers(runtime, stop, concurrency=concurrency))
        if notices:
            jobs.append(run_storm_work(runtime, stop))
        await asyncio.gather(*jobs)
