"""Presence: whether an agent takes offers. Becoming available starts their idle clock."""

from __future__ import annotations

from datetime import datetime

from agent_console.live.log import SUPERVISORS, ConsoleTx, agent_audience
from agent_console.routing import cards
from core.agents import repository
from core.agents.models import Agent, Offer, QueueEntry
from core.agents.policy import EntryState, OfferOutcome, Presence
from core.errors import Invalid


def parse_presence(value: str) -> Presence:
    try:
        return Presence(value)
    except ValueError as exc:
        raise Invalid(f"unknown presence {value!r}",
                      known=[p.value for p in Presence]) from exc


async def set_presence(tx: ConsoleTx, *, agent_id: int, presence: Presence, reason: str,
                       now: datetime) -> Agent:
    agent = await repository.get_agent(tx.session, agent_id=agent_id, for_update=True)
    if agent.presence == presence.value:
        return agent
    agent.presence = presence.value
    agent.presence_since = now
    if presence is Presence.AVAILABLE:
        agent.idle_since = now  # longest-idle counts from when they became free
        tx.kick = True
    else:
        await withdraw_offers(tx, agent_id=agent_id, now=now, reason=f"presence {presence.value}")
    await tx.session.flush()
    loads = await repository.load_by_agent(tx.session, agent_ids=[agent_id])
    tx.emit([agent_audience(agent_id), SUPERVISORS], "presence.changed",
            {**cards.agent_card(agent, loads.get(agent_id)), "reason": reason})
    return agent


async def withdraw_offers(tx: ConsoleTx, *, agent_id: int, now: datetime, reason: str) -> None:
    """An agent who steps away gives back what was reserved for them, at once."""
    for offer in await repository.pending_offers_of(tx.session, agent_id=agent_id):
        await withdraw(tx, offer=offer, now=now, reason=reason)


async def withdraw(tx: ConsoleTx, *, offer: Offer, now: datetime, reason: str,
                   end_entry: bool = False) -> None:
    offer.outcome = OfferOutcome.WITHDRAWN.value
    offer.decided_at = now
    entry = await tx.session.get(QueueEntry, offer.entry_id)
    if entry is not None and entry.state == EntryState.OFFERED and not end_entry:
        entry.state = EntryState.WAITING.value
        tx.kick = True
    tx.emit(agent_audience(offer.agent_id), "offer.withdrawn",
            {**cards.offer_card(offer), "reason": reason}, conversation_id=offer.conversation_id)
