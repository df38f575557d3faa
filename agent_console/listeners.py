"""What the console does when other domains announce something (STYLE 6: `on_<event>`).

Every API process subscribes, so each announcement reaches each process; the shared Dedupe
port makes exactly one of them write the console event."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select

from agent_console import conversations
from agent_console.actions import TYPING_TOPIC
from agent_console.live.hub import publish_ephemeral
from agent_console.live.log import ALL, agent_audience, console_tx
from agent_console.routing.engine import RoutingEngine
from core.agents import repository
from core.conversations.events import DeliveryStatusChanged, MessageReceived, OwnerChanged
from core.conversations.models import Message
from core.conversations.policy import Owner
from core.runtime import Runtime

log = logging.getLogger(__name__)

STORM_TOPIC = "storm.changed"  # whoever owns storm mode announces switches here
AGENT_OWNED = (Owner.AGENT.value, Owner.WRAP_UP.value)


async def on_message_received(runtime: Runtime, payload: dict[str, Any]) -> None:
    """A customer wrote in a conversation an agent holds: push it to that agent."""
    event = MessageReceived.from_payload(payload)
    if event.owner not in AGENT_OWNED:
        return
    if not await runtime.dedupe.first_time(f"console:in:{event.message_id}", ttl_s=3600):
        return
    async with console_tx(runtime) as tx:
        holder = await repository.live_assignment(tx.session,
                                                  conversation_id=event.conversation_id)
        message = await tx.session.get(Message, event.message_id)
        if holder is None or message is None or message.conversation_id != event.conversation_id:
            return
        tx.emit(agent_audience(holder.agent_id), "message.in",
                {"conversation_id": event.conversation_id,
                 "message": conversations.message_view(message)},
                conversation_id=event.conversation_id)


async def on_delivery_status(runtime: Runtime, payload: dict[str, Any]) -> None:
    event = DeliveryStatusChanged.from_payload(payload)
    if not await runtime.dedupe.first_time(
            f"console:status:{event.message_id}:{event.status}", ttl_s=3600):
        return
    async with console_tx(runtime) as tx:
        author = await tx.session.scalar(select(Message.author)
                                         .where(Message.id == event.message_id))
        holder = await repository.live_assignment(tx.session,
                                                  conversation_id=event.conversation_id)
        if author != "agent" or holder is None:
            return
        tx.emit(agent_audience(holder.agent_id), "message.status",
                {"conversation_id": event.conversation_id, "message_id": event.message_id,
                 "status": event.status, "error_code": event.error_code},
                conversation_id=event.conversation_id)


async def on_owner_changed(engine: RoutingEngine, payload: dict[str, Any]) -> None:
    """A hand-off (or anything that queues a conversation): route now, not at the heartbeat."""
    if OwnerChanged.from_payload(payload).owner == Owner.QUEUED.value:
        engine.kick()


async def on_customer_typing(runtime: Runtime, payload: dict[str, Any]) -> None:
    if payload.get("who") != "customer":
        return
    conversation_id = int(payload["conversation_id"])
    async with runtime.sessions() as session:
        holder = await repository.live_assignment(session, conversation_id=conversation_id)
    if holder is not None:
        await publish_ephemeral(runtime, audience=agent_audience(holder.agent_id), kind="typing",
                                conversation_id=conversation_id, data={"who": "customer"})


async def on_storm_changed(runtime: Runtime, payload: dict[str, Any]) -> None:
    """Storm mode switched elsewhere (the outage domain): show the banner on every console."""
    if payload.get("source") == "console":
        return  # the console's own switch already showed it
    key = f"console:storm:{payload.get('version') or payload.get('at') or payload.get('on')}"
    if not await runtime.dedupe.first_time(key, ttl_s=60):
        return
    async with console_tx(runtime) as tx:
        tx.emit(ALL, "storm.banner", {"on": bool(payload.get("on")),
                                      "message": payload.get("message") or "",
                                      "by": payload.get("by")})


Handler = Callable[[dict[str, Any]], Awaitable[None]]


async def listen(runtime: Runtime, topic: str, handler: Handler,
                 ready: asyncio.Event | None = None) -> None:
    """Run `handler` for every event on `topic`, one at a time, surviving handler errors."""
    async with runtime.bus.subscribe(topic) as events:
        if ready is not None:
            ready.set()
        async for payload in events:
            try:
                await handler(payload)
            except Exception:  # one bad event must not stop the console listening
                log.exception("console listener for %s failed", topic)


def handlers(runtime: Runtime, engine: RoutingEngine) -> dict[str, Handler]:
    return {
        MessageReceived.topic: lambda p: on_message_received(runtime, p),
        DeliveryStatusChanged.topic: lambda p: on_delivery_status(runtime, p),
        OwnerChanged.topic: lambda p: on_owner_changed(engine, p),
        TYPING_TOPIC: lambda p: on_customer_typing(runtime, p),
        STORM_TOPIC: lambda p: on_storm_changed(runtime, p),
    }


async def run_all(runtime: Runtime, engine: RoutingEngine, ready: asyncio.Event) -> None:
    """Every console listener; `ready` is set once all of them are subscribed."""
    table = handlers(runtime, engine)
    subscribed = [asyncio.Event() for _ in table]
    async with asyncio.TaskGroup() as group:
        for (topic, handler), flag in zip(table.items(), subscribed, strict=True):
            group.create_task(listen(runtime, topic, handler, flag))
        for flag in subscribed:
            await flag.wait()
        ready.set()
