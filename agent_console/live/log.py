"""The console's unit of work: domain writes and the console events they cause commit together,
then the events go out on the bus.

Event ids come from one counter row, taken at the very end of the transaction and held until
its commit: ids are gapless and in commit order on PostgreSQL and SQLite alike. A process that
has seen every id up to N therefore knows the database holds nothing older it has not seen,
which is what makes reconnect-with-last-id exact (hub.py)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.agents.models import ConsoleEvent, ConsoleEventCounter, ConsoleFlag
from core.clock import utcnow
from core.events import DomainEvent
from core.runtime import Runtime

EVENTS_TOPIC = "console.events"  # committed, numbered events (batched per transaction)
EPHEMERAL_TOPIC = "console.ephemeral"  # typing and the like: never stored, never replayed
ROUTE_TOPIC = "console.route"  # "something changed, route now" for every process's loop

ALL = "all"
SUPERVISORS = "supervisors"


def agent_audience(agent_id: int) -> str:
    return f"agent:{agent_id}"


def skill_audience(skill: str) -> str:
    return f"skill:{skill}"


@dataclass(frozen=True, slots=True)
class PendingEvent:
    audience: str
    kind: str
    payload: dict[str, Any]
    conversation_id: int | None = None


@dataclass(slots=True)
class ConsoleTx:
    """A session plus what to announce once it commits."""

    session: AsyncSession
    events: list[PendingEvent] = field(default_factory=list)
    domain_events: list[DomainEvent] = field(default_factory=list)
    after: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    kick: bool = False  # wake the routing loops after commit

    def emit(self, audience: str | Iterable[str], kind: str, payload: dict[str, Any], *,
             conversation_id: int | None = None) -> None:
        audiences = [audience] if isinstance(audience, str) else list(dict.fromkeys(audience))
        for one in audiences:
            self.events.append(PendingEvent(one, kind, payload, conversation_id))

    def publish_after(self, event: DomainEvent) -> None:
        self.domain_events.append(event)


def envelope(row: ConsoleEvent | dict[str, Any]) -> dict[str, Any]:
    """The wire form of a stored event (PROTOCOL.md "Events")."""
    if isinstance(row, dict):
        return row
    return {
        "id": row.id,
        "type": row.kind,
        "audience": row.audience,
        "at": row.at.isoformat(),
        "conversation_id": row.conversation_id,
        "data": row.payload,
    }


async def _number_and_store(session: AsyncSession,
                            pending: Sequence[PendingEvent]) -> list[dict[str, Any]]:
    result = await session.execute(
        update(ConsoleEventCounter)
        .where(ConsoleEventCounter.id == 1)
        .values(last_id=ConsoleEventCounter.last_id + len(pending))
        .returning(ConsoleEventCounter.last_id)
    )
    last = result.scalar_one()
    first = last - len(pending) + 1
    now = utcnow()
    rows = [
        {"id": first + i, "audience": e.audience, "kind": e.kind,
         "conversation_id": e.conversation_id, "payload": e.payload, "at": now}
        for i, e in enumerate(pending)
    ]
    await session.execute(insert(ConsoleEvent), rows)
    return [
        {"id": r["id"], "type": r["kind"], "audience": r["audience"], "at": now.isoformat(),
         "conversation_id": r["conversation_id"], "data": r["payload"]}
        for r in rows
    ]


@asynccontextmanager
async def console_tx(runtime: Runtime) -> AsyncIterator[ConsoleTx]:
    """Commit at the edge (STYLE 8), then publish: numbered events, domain events, a route kick."""
    async with runtime.sessions() as session:
        tx = ConsoleTx(session)
        try:
            yield tx
            published = await _number_and_store(session, tx.events) if tx.events else []
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
    await announce(runtime, published, tx)


LOG_ID_FLAG = "console_event_log"


async def log_id(runtime: Runtime) -> str:
    """This database's event log identity. Batches carry it, so a process never takes events
    from another deployment that happens to share the Redis server (same channel names)."""
    cached = runtime.extras.get(LOG_ID_FLAG)
    if cached is not None:
        return cached
    async with runtime.sessions() as session:
        flag = await session.get(ConsoleFlag, LOG_ID_FLAG)
        if flag is None:
            try:
                session.add(ConsoleFlag(key=LOG_ID_FLAG, value={"id": uuid.uuid4().hex},
                                        changed_by="system", changed_at=utcnow()))
                await session.commit()
            except IntegrityError:  # another process created it first: theirs it is
                await session.rollback()
            flag = await session.get(ConsoleFlag, LOG_ID_FLAG, populate_existing=True)
        assert flag is not None
        found = runtime.extras[LOG_ID_FLAG] = str(flag.value["id"])
    return found


async def announce(runtime: Runtime, published: list[dict[str, Any]], tx: ConsoleTx) -> None:
    if published:
        await runtime.bus.publish(EVENTS_TOPIC, {"log": await log_id(runtime),
                                                 "events": published})
    for event in tx.domain_events:
        await runtime.bus.publish(event.topic, event.to_payload())
    for step in tx.after:
        await step()
    if tx.kick:
        await runtime.bus.publish(ROUTE_TOPIC, {})


async def events_after(session: AsyncSession, *, after_id: int, upto_id: int | None = None,
                       audiences: Iterable[str] | None = None,
                       limit: int = 5000) -> list[ConsoleEvent]:
    """Stored events with ids in (after_id, upto_id], oldest first, optionally for some audiences."""
    query = select(ConsoleEvent).where(ConsoleEvent.id > after_id)
    if upto_id is not None:
        query = query.where(ConsoleEvent.id <= upto_id)
    if audiences is not None:
        query = query.where(ConsoleEvent.audience.in_(list(audiences)))
    return list(await session.scalars(query.order_by(ConsoleEvent.id).limit(limit)))


async def prune(session: AsyncSession, *, before: datetime, batch: int = 10_000) -> int:
    """Drop events older than `before` (ids stay gapless: the counter never goes back, and a
    replay that reaches below the oldest kept id gets a resync instead)."""
    cutoff = await session.scalar(
        select(ConsoleEvent.id).where(ConsoleEvent.at < before)
        .order_by(ConsoleEvent.id.desc()).limit(1))
    if cutoff is None:
        return 0
    floor = await session.scalar(select(ConsoleEvent.id).order_by(ConsoleEvent.id).limit(1))
    upto = min(cutoff, (floor or 0) + batch)
    result = await session.execute(delete(ConsoleEvent).where(ConsoleEvent.id <= upto))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def oldest_event_id(session: AsyncSession) -> int | None:
    return await session.scalar(select(ConsoleEvent.id).order_by(ConsoleEvent.id).limit(1))


async def last_event_id(session: AsyncSession) -> int:
    return int(await session.scalar(
        select(ConsoleEventCounter.last_id).where(ConsoleEventCounter.id == 1)) or 0)
