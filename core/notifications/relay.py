"""The relay: moves due notice rows from the outbox to the durable queue, a bounded window at a
time, and re-queues rows whose queue entry may be lost. The database is the backlog; the
stream holds only what workers can start on soon, so a newer ETR can still supersede what
is waiting and quiet hours can still hold it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from core.clock import utcnow
from core.db import unit_of_work
from core.notifications import repository
from core.notifications.dispatch import NOTICE_STREAM
from core.notifications.flows import plan_missing
from core.notifications.models import NoticeStatus
from core.notifications.policy import NoticePolicy
from core.runtime import Runtime

log = logging.getLogger(__name__)

RELAY_BATCH = 2000


@dataclass(slots=True)
class RelayPass:
    relayed: int = 0
    requeued: int = 0
    planned: int = 0


async def relay_once(runtime: Runtime, policy: NoticePolicy, *, now: datetime | None = None,
                     limit: int | None = None) -> int:
    """Queue up to the window's free room. The entries go on the stream before the rows'
    `queued` commits: a relay that dies in between leaves rows still pending (taken again
    next pass) and entries a worker leaves unacknowledged until the rows say `queued`
    (dispatch.handle), so no row is ever queued without an entry."""
    now = now or utcnow()
    async with unit_of_work(runtime.sessions) as session:
        if limit is None:
            room = policy.queue_high_water - await repository.count_in(session,
                                                                        NoticeStatus.QUEUED)
            limit = min(room, RELAY_BATCH)
        if limit <= 0:
            return 0
        ids = await repository.take_due(session, now=now, limit=limit)
        await enqueue_chunks(runtime, ids, policy.chunk_size)
    return len(ids)


async def enqueue_chunks(runtime: Runtime, ids: list[int], size: int) -> None:
    for start in range(0, len(ids), size):
        await runtime.queue.enqueue(NOTICE_STREAM, {"ids": ids[start:start + size]})


async def requeue_stuck(runtime: Runtime, policy: NoticePolicy, *,
                        now: datetime | None = None) -> int:
    """Rows queued long ago (their entry may be gone) and rows a dead sender left mid-send."""
    now = now or utcnow()
    async with unit_of_work(runtime.sessions) as session:
        ids = await repository.stuck(
            session, queued_before=now - policy.stale_claim * 10,
            claimed_before=now - policy.stale_claim, now=now, limit=RELAY_BATCH)
    await enqueue_chunks(runtime, ids, policy.chunk_size)
    if ids:
        log.warning("re-queued %d notices whose queue entry or sender may be lost", len(ids))
    return len(ids)


async def sweep_plans(runtime: Runtime, policy: NoticePolicy, *,
                      now: datetime | None = None) -> int:
    async with unit_of_work(runtime.sessions) as session:
        planned = await plan_missing(session, policy=policy, now=now)
    return sum(p.notices for p in planned)
