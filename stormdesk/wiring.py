"""Composition root: choose adapters from settings and build the Runtime."""

from __future__ import annotations

from sqlalchemy import text

from agent_console.startup import install_hooks as install_console_hooks
from bot.nlu.pipeline import Nlu
from bot.responder import BotResponder
from channels.twilio_sms.options import TwilioSmsOptions
from channels.twilio_voice.sender import register_voice_sender
from channels.webchat import register_sender as register_webchat_sender
from core.config import Settings
from core.db import make_engine, make_sessionmaker
from core.runtime import Runtime
from integrations.twilio import messaging_extras
from stormdesk.worker import install_storm


async def build_runtime(settings: Settings) -> Runtime:
    engine = make_engine(settings.effective_database_url)
    sessions = make_sessionmaker(engine)

    async def database_probe() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    probes = {"database": database_probe}
    if settings.redis_url:
        from integrations.redis import redis_ports

        ports = redis_ports(settings.redis_url)

        async def redis_probe() -> None:
            if not await ports.ready():
                raise ConnectionError("redis did not answer")

        probes["redis"] = redis_probe
    else:
        from core.local import local_ports

        ports = local_ports()
    runtime = Runtime(
        settings=settings,
        engine=engine,
        sessions=sessions,
        bus=ports.bus,
        queue=ports.queue,
        lock=ports.lock,
        limiter=ports.limiter,
        dedupe=ports.dedupe,
        probes=probes,
        closers=[ports.close],
        extras=messaging_extras(settings, limiter=ports.limiter),
    )
    runtime.extras["twilio_sms_options"] = TwilioSmsOptions(
        inline_budget_s=settings.sms_inline_budget_s, region=settings.default_region)
    # Storm mode, the outage picture and notice senders; before the console takes its switch.
    install_storm(runtime)
    # JWT verifier, queue estimate and queue exit: API processes and workers (the bot) alike.
    install_console_hooks(runtime)
    # Written replies on a phone conversation go out as a text to the caller.
    register_voice_sender(runtime.extras)
    # Chat replies are published for whichever API process holds the customer's socket.
    register_webchat_sender(runtime)
    runtime.extras["responder"] = BotResponder(
        nlu=Nlu.from_settings(settings), settings=settings, extras=runtime.extras)
    return runtime
