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
from agent_console.live.log import ALL, agent_audience, console_tx, log_id
from agent_console.routing.engine import RoutingEngine
from core.agents import repository
from core.conversations.events import DeliveryStatusChanged, MessageReceived, OwnerChanged
from core.conversations.models import Message
from core.conversations.policy import Owner
from core.runtime import Runtime

log = logging.getLogger(__name__)

STORM_TOPIC = "storm.changed"  # whoever owns storm mode announces switches here
AGENT_OWNED = (Owner.AGENT.value, Owner.WRAP_UP.value)


async def _first_time(runtime: Runtime, keys: list[str], *, ttl_s: float = 3600) -> list[bool]:
    """Which of these announcements this process is the first to handle. Keys carry the event
    log's identity: ids restart with a new database, and a Redis may serve several."""
    scope = await log_id(runtime)
    return list(await asyncio.gather(*(
        runtime.dedupe.first_time(f"console:{scope}:{k}", ttl_s=ttl_s) for k in keys)))


async def on_messages_received(runtime: Runtime, payloads: list[dict[str, Any]]) -> None:
    """Customers wrote in conversations agents hold: push each message to its holder.

    Batched: whatever arrived together is written in one transaction (one event-id counter
    update), so a burst of inbound texts costs one commit, not one each."""
    events = [e for e in (MessageReceived.from_payload(p) for p in payloads)
              if e.owner in AGENT_OWNED]
    if not events:
        return
    fresh = await _first_time(runtime, [f"in:{e.message_id}" for e in events])
    events = [e for e, first in zip(events, fresh, strict=True) if first]
    if not events:
        return
    async with console_tx(runtime) as tx:
        holders = await repository.live_assignments(
            tx.session, conversation_ids=[e.conversation_id for e in events])
        messages = {m.id: m for m in await conversations.messages_by_id(
            tx.session, [e.message_id for e in events])}
        for event in events:
            holder = holders.get(event.conversation_id)
            message = messages.get(event.message_id)
            if holder is None or message is None or \
                    message.conversation_id != event.conversation_id:
                continue
            tx.emit(agent_audience(holder.agent_id), "message.in",
                    {"conversation_id": event.conversation_id,
                     "message": conversations.message_view(message)},
                    conversation_id=event.conversation_id)


async def on_delivery_statuses(runtime: Runtime, payloads: list[dict[str, Any]]) -> None:
    """Delivery status of agents' replies, for the tick marks in the transcript (batched)."""
    events = [DeliveryStatusChanged.from_payload(p) for p in payloads]
    fresh = await _first_time(runtime, [f"status:{e.message_id}:{e.status}"
                                        for e in events])
    events = [e for e, first in zip(events, fresh, strict=True) if first]
    if not events:
        return
    async with console_tx(runtime) as tx:
        holders = await repository.live_assignments(
            tx.session, conversation_ids=[e.conversation_id for e in events])
        authors = dict((await tx.session.execute(
            select(Message.id, Message.author)
            .where(Message.id.in_([e.message_id for e in events])))).all())
        for event in events:
            holder = holders.get(event.conversation_id)
            if authors.get(event.message_id) != "agent" or holder is None:
                continue
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
    key = f"storm:{payload.get('version') or payload.get('at') or payload.get('on')}"
    if not (await _first_time(runtime, [key], ttl_s=60))[0]:
        return
    async with console_tx(runtime) as tx:
        tx.emit(ALL, "storm.banner", {"on": bool(payload.get("on")),
                                      "message": payload.get("message") or "",
                                      "by": payload.get("by")})


Handler = Callable[[dict[str, Any]], Awaitable[None]]
BatchHandler = Callable[[list[dict[str, Any]]], Awaitable[None]]
MAX_BATCH = 500


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


async def listen_batched(runtime: Runtime, topic: str, handler: BatchHandler,
                         ready: asyncio.Event | None = None) -> None:
    """Like `listen`, but hands the handler everything that arrived while it was busy."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def receive(events: Any) -> None:
        async for payload in events:
            inbox.put_nowait(payload)

    async with runtime.bus.subscribe(topic) as events, asyncio.TaskGroup() as group:
        group.create_task(receive(events))
        if ready is not None:
            ready.set()
        while True:
            batch = [await inbox.get()]
            while not inbox.empty() and len(batch) < MAX_BATCH:
                batch.append(inbox.get_nowait())
            try:
                await handler(batch)
            except Exception:  # the batch is lost to the live view only: replay has the truth
                log.exception("console listener for %s failed on %d events", topic, len(batch))


def handlers(runtime: Runtime, engine: RoutingEngine) -> dict[str, Handler]:
    return {
        OwnerChanged.topic: lambda p: on_owner_changed(engine, p),
        TYPING_TOPIC: lambda p: on_customer_typing(runtime, p),
        STORM_TOPIC: lambda p: on_storm_changed(runtime, p),
    }


def batch_handlers(runtime: Runtime) -> dict[str, BatchHandler]:
    return {
        MessageReceived.topic: lambda b: on_messages_received(runtime, b),
        DeliveryStatusChanged.topic: lambda b: on_delivery_statuses(runtime, b),
    }


async def run_all(runtime: Runtime, engine: RoutingEngine, ready: asyncio.Event) -> None:
    """Every console listener; `ready` is set once all of them are subscribed."""
    single = handlers(runtime, engine)
    batched = batch_handlers(runtime)
    subscribed = [asyncio.Event() for _ in range(len(single) + len(batched))]
    flags = iter(subscribed)
    async with asyncio.TaskGroup() as group:
        for topic, handler in single.items():
            group.create_task(listen(runtime, topic, handler, next(flags)))
        for topic, batch_handler in batched.items():
            group.create_task(listen_batched(runtime, topic, batch_handler, next(flags)))
        for flag in subscribed:
            await flag.wait()
        ready.set()
