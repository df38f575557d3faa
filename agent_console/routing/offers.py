"""Offers: a waiting conversation is reserved for the longest-idle eligible agent, who accepts
it or lets it lapse, after which it goes to the next one.

Accept, decline and lapse are each one conditional update on a still-pending offer, so an
accept racing the timeout (or a second tab) has exactly one winner."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from agent_console import conversations
from agent_console.config import ConsoleConfig
from agent_console.live.log import SUPERVISORS, ConsoleTx, agent_audience
from agent_console.routing import cards
from agent_console.routing.presence import set_presence
from core.agents import repository
from core.agents.models import Agent, Assignment, Offer, QueueEntry
from core.agents.policy import (
    RESOLUTION_SLA_S,
    AssignmentState,
    EntryState,
    OfferOutcome,
    Presence,
)
from core.conversations.policy import Owner
from core.errors import Conflict, Forbidden, NotFound


@dataclass(slots=True)
class _Candidate:
    agent: Agent
    load: dict[str, int]

    def free(self, channel: str) -> bool:
        return self.load.get(channel, 0) < int((self.agent.capacity or {}).get(channel, 0))

    def total(self) -> int:
        return sum(self.load.values())


def pick_agent(entry: QueueEntry, candidates: Sequence[_Candidate], *, now: datetime,
               overflow_after_s: float) -> _Candidate | None:
    """The longest-idle agent who may take this entry: least loaded first, then idle longest.

    Eligible: has the skill (any skill once the entry has waited past the overflow time), has
    room on the entry's channel, and has not passed on it — unless everyone eligible has, in
    which case the round starts again. A transfer to a named agent goes to them only."""
    if entry.target_agent_id is not None:
        named = [c for c in candidates if c.agent.id == entry.target_agent_id
                 and c.free(entry.channel) and c.agent.id not in (entry.passed_agent_ids or ())]
        return named[0] if named else None
    overflow = (now - entry.enqueued_at).total_seconds() >= overflow_after_s
    eligible = [
        c for c in candidates
        if c.agent.presence == Presence.AVAILABLE
        and (overflow or entry.skill in (c.agent.skills or ()))
        and c.free(entry.channel)
    ]
    passed = set(entry.passed_agent_ids or ())
    fresh = [c for c in eligible if c.agent.id not in passed] or eligible
    if not fresh:
        return None
    return min(fresh, key=lambda c: (c.total(), c.agent.idle_since, c.agent.id))


async def expire_offers(tx: ConsoleTx, *, now: datetime, config: ConsoleConfig) -> int:
    """Lapsed offers go back to the queue; the agent who let one lapse is marked away."""
    lapsed = list(await tx.session.scalars(
        select(Offer).where(Offer.outcome == OfferOutcome.PENDING.value, Offer.expires_at <= now)
    ))
    for offer in lapsed:
        won = await tx.session.execute(
            update(Offer).where(Offer.id == offer.id, Offer.outcome == OfferOutcome.PENDING.value)
            .values(outcome=OfferOutcome.TIMED_OUT.value, decided_at=now)
            .execution_options(synchronize_session=False))
        if won.rowcount != 1:  # type: ignore[attr-defined]
            continue
        offer.outcome = OfferOutcome.TIMED_OUT.value
        await _back_to_queue(tx, offer=offer, now=now)
        tx.emit(agent_audience(offer.agent_id), "offer.expired", cards.offer_card(offer),
                conversation_id=offer.conversation_id)
        if config.away_on_missed_offer:
            await set_presence(tx, agent_id=offer.agent_id, presence=Presence.AWAY,
                               reason="missed an offer", now=now)
    return len(lapsed)


async def _back_to_queue(tx: ConsoleTx, *, offer: Offer, now: datetime) -> None:
    entry = await tx.session.get(QueueEntry, offer.entry_id, with_for_update=True)
    if entry is None or entry.state != EntryState.OFFERED:
        return
    entry.state = EntryState.WAITING.value
    entry.passed_agent_ids = sorted({*(entry.passed_agent_ids or ()), offer.agent_id})
    if entry.target_agent_id == offer.agent_id:
        entry.target_agent_id = None  # the named agent passed: the skill's queue takes it
    tx.kick = True


async def make_offers(tx: ConsoleTx, *, now: datetime, config: ConsoleConfig) -> int:
    """Offer every waiting entry that has an eligible agent, most urgent entry first."""
    waiting = await repository.waiting_entries(tx.session)
    if not waiting:
        return 0
    agents = await repository.all_agents(tx.session)
    loads = await repository.load_by_agent(tx.session)
    candidates = [
        _Candidate(a, loads.get(a.id, {})) for a in agents
        if a.presence in (Presence.AVAILABLE.value, Presence.BUSY.value)
    ]
    made = 0
    for entry in waiting:
        chosen = pick_agent(entry, candidates, now=now, overflow_after_s=config.overflow_after_s)
        if chosen is None:
            continue
        offer = Offer(entry_id=entry.id, conversation_id=entry.conversation_id,
                      agent_id=chosen.agent.id, channel=entry.channel, offered_at=now,
                      expires_at=now + timedelta(seconds=config.offer_timeout_s),
                      outcome=OfferOutcome.PENDING.value)
        tx.session.add(offer)
        entry.state = EntryState.OFFERED.value
        entry.offers_made = (entry.offers_made or 0) + 1
        chosen.load[entry.channel] = chosen.load.get(entry.channel, 0) + 1
        await tx.session.flush()
        conversation = await conversations.get_conversation(tx.session, entry.conversation_id)
        tx.emit(agent_audience(chosen.agent.id), "offer.new", {
            **cards.offer_card(offer),
            "entry": cards.entry_card(entry),
            "conversation": await conversations.card(tx.session, conversation),
            "timeout_s": config.offer_timeout_s,
        }, conversation_id=entry.conversation_id)
        made += 1
    return made


async def _pending_offer(tx: ConsoleTx, *, offer_id: int, agent_id: int) -> Offer:
    offer = await tx.session.get(Offer, offer_id)
    if offer is None:
        raise NotFound("no such offer", offer_id=offer_id)
    if offer.agent_id != agent_id:
        raise Forbidden("this offer was made to another agent", offer_id=offer_id)
    if offer.outcome != OfferOutcome.PENDING:
        raise Conflict(f"the offer is already {offer.outcome}", offer_id=offer_id,
                       outcome=offer.outcome)
    return offer


async def accept(tx: ConsoleTx, *, offer_id: int, agent_id: int, now: datetime) -> Assignment:
    offer = await _pending_offer(tx, offer_id=offer_id, agent_id=agent_id)
    if offer.expires_at <= now:
        raise Conflict("the offer has expired", offer_id=offer_id, outcome="timed_out")
    won = await tx.session.execute(
        update(Offer).where(Offer.id == offer.id, Offer.outcome == OfferOutcome.PENDING.value,
                            Offer.expires_at > now)
        .values(outcome=OfferOutcome.ACCEPTED.value, decided_at=now)
        .execution_options(synchronize_session=False))
    if won.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("the offer is no longer open", offer_id=offer_id)
    offer.outcome = OfferOutcome.ACCEPTED.value
    offer.decided_at = now
    entry = await tx.session.get(QueueEntry, offer.entry_id, with_for_update=True)
    assert entry is not None
    conversation = await conversations.get_conversation(tx.session, offer.conversation_id)
    if conversation.owner != Owner.QUEUED:
        raise Conflict("the customer is no longer waiting", conversation_id=conversation.id)
    await conversations.move(tx, conversation_id=conversation.id, to=Owner.AGENT.value,
                             reason="offer_accepted", agent_id=agent_id)
    entry.state = EntryState.ASSIGNED.value
    entry.live_key = None
    entry.ended_at = now
    entry.handled_by = agent_id
    assignment = Assignment(
        conversation_id=conversation.id, live_key=conversation.id, agent_id=agent_id,
        entry_id=entry.id, skill=entry.skill, channel=entry.channel,
        state=AssignmentState.ACTIVE.value, started_at=now,
        first_response_due=entry.first_response_due, first_response_breached=entry.sla_breached,
        resolution_due=now + timedelta(seconds=RESOLUTION_SLA_S), resolution_breached=False,
    )
    tx.session.add(assignment)
    agent = await repository.get_agent(tx.session, agent_id=agent_id, for_update=True)
    agent.idle_since = now
    await tx.session.flush()
    card = await conversations.card(tx.session, conversation)
    payload = {**cards.assignment_card(assignment), "conversation": card,
               "entry": cards.entry_card(entry)}
    tx.emit([agent_audience(agent_id), SUPERVISORS], "conversation.assigned", payload,
            conversation_id=conversation.id)
    tx.kick = True
    return assignment


async def decline(tx: ConsoleTx, *, offer_id: int, agent_id: int, now: datetime) -> Offer:
    offer = await _pending_offer(tx, offer_id=offer_id, agent_id=agent_id)
    won = await tx.session.execute(
        update(Offer).where(Offer.id == offer.id, Offer.outcome == OfferOutcome.PENDING.value)
        .values(outcome=OfferOutcome.DECLINED.value, decided_at=now)
        .execution_options(synchronize_session=False))
    if won.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("the offer is no longer open", offer_id=offer_id)
    offer.outcome = OfferOutcome.DECLINED.value
    offer.decided_at = now
    await _back_to_queue(tx, offer=offer, now=now)
    tx.emit(agent_audience(agent_id), "offer.declined", cards.offer_card(offer),
            conversation_id=offer.conversation_id)
    return offer
