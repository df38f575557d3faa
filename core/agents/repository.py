"""Agent and routing queries shared by the console's services."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.agents.models import Agent, Assignment, Offer, QueueEntry
from core.agents.policy import AssignmentState, EntryState, OfferOutcome
from core.errors import NotFound

LIVE_ASSIGNMENT = (AssignmentState.ACTIVE.value, AssignmentState.WRAP_UP.value)
LIVE_ENTRY = (EntryState.WAITING.value, EntryState.OFFERED.value)


async def get_agent(session: AsyncSession, *, agent_id: int, for_update: bool = False) -> Agent:
    query = select(Agent).where(Agent.id == agent_id)
    if for_update:
        query = query.with_for_update()
    agent = await session.scalar(query)
    if agent is None:
        raise NotFound(f"agent {agent_id} not found", agent_id=agent_id)
    return agent


async def by_username(session: AsyncSession, *, username: str) -> Agent | None:
    return await session.scalar(select(Agent).where(Agent.username == username.strip().lower()))


async def all_agents(session: AsyncSession) -> list[Agent]:
    return list(await session.scalars(select(Agent).where(Agent.active).order_by(Agent.id)))


async def live_assignment(session: AsyncSession, *, conversation_id: int) -> Assignment | None:
    return await session.scalar(
        select(Assignment).where(Assignment.live_key == conversation_id)
    )


async def live_assignments(session: AsyncSession, *,
                           conversation_ids: Sequence[int]) -> dict[int, Assignment]:
    """Conversation id → its live assignment, for the ones that have one."""
    if not conversation_ids:
        return {}
    rows = await session.scalars(
        select(Assignment).where(Assignment.live_key.in_(list(set(conversation_ids)))))
    return {a.conversation_id: a for a in rows}


async def live_entry(
    session: AsyncSession, *, conversation_id: int, for_update: bool = False
) -> QueueEntry | None:
    query = select(QueueEntry).where(QueueEntry.live_key == conversation_id)
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def assignments_of(session: AsyncSession, *, agent_id: int) -> list[Assignment]:
    rows = await session.scalars(
        select(Assignment)
        .where(Assignment.agent_id == agent_id, Assignment.state.in_(LIVE_ASSIGNMENT))
        .order_by(Assignment.started_at)
    )
    return list(rows)


async def pending_offers_of(session: AsyncSession, *, agent_id: int) -> list[Offer]:
    rows = await session.scalars(
        select(Offer).where(Offer.agent_id == agent_id, Offer.outcome == OfferOutcome.PENDING)
    )
    return list(rows)


async def load_by_agent(
    session: AsyncSession, *, agent_ids: Sequence[int] | None = None
) -> dict[int, dict[str, int]]:
    """Agent id → channel → conversations held plus offers pending (what capacity counts)."""
    loads: dict[int, dict[str, int]] = {}
    held = select(Assignment.agent_id, Assignment.channel, func.count()).where(
        Assignment.state.in_(LIVE_ASSIGNMENT)
    )
    offered = select(Offer.agent_id, Offer.channel, func.count()).where(
        Offer.outcome == OfferOutcome.PENDING
    )
    if agent_ids is not None:
        held = held.where(Assignment.agent_id.in_(agent_ids))
        offered = offered.where(Offer.agent_id.in_(agent_ids))
    for query in (held, offered):
        grouped = query.group_by(query.selected_columns[0], query.selected_columns[1])
        for agent_id, channel, count in (await session.execute(grouped)).all():
            per_channel = loads.setdefault(agent_id, {})
            per_channel[channel] = per_channel.get(channel, 0) + count
    return loads


async def waiting_entries(session: AsyncSession) -> list[QueueEntry]:
    """Waiting entries in the order they should be served: priority first, then arrival."""
    rows = await session.scalars(
        select(QueueEntry)
        .where(QueueEntry.state == EntryState.WAITING)
        .order_by(QueueEntry.priority.desc(), QueueEntry.enqueued_at, QueueEntry.id)
    )
    return list(rows)


async def live_entries(session: AsyncSession) -> list[QueueEntry]:
    rows = await session.scalars(
        select(QueueEntry)
        .where(QueueEntry.state.in_(LIVE_ENTRY))
        .order_by(QueueEntry.priority.desc(), QueueEntry.enqueued_at, QueueEntry.id)
    )
    return list(rows)
