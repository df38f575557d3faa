"""REST for the agent's own work: state on load, offers, conversations, notes, wrap-up."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import select

from agent_console import actions, canned, conversations
from agent_console.auth.access import Denied, acting, audited, require_view
from agent_console.auth.guard import CurrentAgent
from agent_console.live.log import last_event_id
from agent_console.routing import cards, queues
from agent_console.schemas import HandBackIn, MessageIn, NoteIn, PresenceIn, TransferIn, WrapUpIn
from agent_console.storm import storm_switch
from core.agents import repository
from core.agents.models import Disposition, QueueEntry
from core.agents.policy import may_supervise
from core.clock import utcnow
from core.http import RuntimeDep

router = APIRouter(prefix="/api/v1/agent", tags=["agent console"])


@router.get("/state")
async def state(caller: CurrentAgent, runtime: RuntimeDep) -> dict[str, Any]:
    """Everything the console shows on load, and the event id to resume the websocket from.

    The id is read first: whatever happens after it is replayed, so nothing falls between."""
    agent_id = caller.agent_id or 0
    async with runtime.sessions() as session:
        resume_from = await last_event_id(session)
        agent = await repository.get_agent(session, agent_id=agent_id)
        loads = await repository.load_by_agent(session, agent_ids=[agent_id])
        offers = []
        for offer in await repository.pending_offers_of(session, agent_id=agent_id):
            conversation = await conversations.get_conversation(session, offer.conversation_id)
            offers.append({**cards.offer_card(offer),
                           "conversation": await conversations.card(session, conversation)})
        held = []
        for assignment in await repository.assignments_of(session, agent_id=agent_id):
            conversation = await conversations.get_conversation(session,
                                                                assignment.conversation_id)
            held.append({**cards.assignment_card(assignment),
                         "conversation": await conversations.card(session, conversation)})
        snapshot = await queues.snapshot(session, now=utcnow())
        if not may_supervise(caller.role):
            snapshot["queues"] = {k: v for k, v in snapshot["queues"].items()
                                  if k in (agent.skills or ())}
        dispositions = [{"code": d.code, "label": d.label} for d in await session.scalars(
            select(Disposition).where(Disposition.active).order_by(Disposition.label))]
    return {
        "last_event_id": resume_from,
        "agent": cards.agent_card(agent, loads.get(agent_id)),
        "offers": offers,
        "assignments": held,
        "queues": snapshot,
        "dispositions": dispositions,
        "storm": await storm_switch(runtime).current(),
    }


@router.put("/presence")
async def set_presence(body: PresenceIn, caller: CurrentAgent,
                       runtime: RuntimeDep) -> dict[str, Any]:
    return await actions.set_presence(runtime, caller, value=body.presence)


@router.post("/offers/{offer_id}/accept")
async def accept(offer_id: int, caller: CurrentAgent, runtime: RuntimeDep) -> dict[str, Any]:
    return await actions.accept_offer(runtime, caller, offer_id=offer_id)


@router.post("/offers/{offer_id}/decline")
async def decline(offer_id: int, caller: CurrentAgent, runtime: RuntimeDep) -> dict[str, Any]:
    return await actions.decline_offer(runtime, caller, offer_id=offer_id)


@router.get("/conversations/{conversation_id}")
async def conversation(conversation_id: int, caller: CurrentAgent,
                       runtime: RuntimeDep) -> dict[str, Any]:
    """Transcript (the bot's turns too), hand-off summary, notes, holder."""
    return await actions.view_conversation(runtime, caller, conversation_id=conversation_id)


@router.post("/conversations/{conversation_id}/messages")
async def send(conversation_id: int, body: MessageIn, caller: CurrentAgent,
               runtime: RuntimeDep) -> dict[str, Any]:
    return await actions.send_message(runtime, caller, conversation_id=conversation_id,
                                      text=body.text)


@router.post("/conversations/{conversation_id}/notes")
async def note(conversation_id: int, body: NoteIn, caller: CurrentAgent,
               runtime: RuntimeDep) -> dict[str, Any]:
    return await actions.add_note(runtime, caller, conversation_id=conversation_id,
                                  body=body.body)


@router.post("/conversations/{conversation_id}/transfer")
async def transfer(conversation_id: int, body: TransferIn, caller: CurrentAgent,
                   runtime: RuntimeDep) -> dict[str, Any]:
    return await actions.transfer(runtime, caller, conversation_id=conversation_id,
                                  to_agent_id=body.to_agent_id, to_skill=body.to_queue,
                                  note=body.note)


@router.post("/conversations/{conversation_id}/wrap-up")
async def start_wrap_up(conversation_id: int, caller: CurrentAgent,
                        runtime: RuntimeDep) -> dict[str, Any]:
    return await actions.start_wrap_up(runtime, caller, conversation_id=conversation_id)


@router.post("/conversations/{conversation_id}/wrap-up/complete")
async def complete_wrap_up(conversation_id: int, body: WrapUpIn, caller: CurrentAgent,
                           runtime: RuntimeDep) -> dict[str, Any]:
    return await actions.complete_wrap_up(runtime, caller, conversation_id=conversation_id,
                                          disposition=body.disposition, notes=body.notes)


@router.post("/conversations/{conversation_id}/hand-back")
async def hand_back(conversation_id: int, body: HandBackIn, caller: CurrentAgent,
                    runtime: RuntimeDep) -> dict[str, Any]:
    return await actions.hand_back(runtime, caller, conversation_id=conversation_id,
                                   note=body.note)


@router.get("/conversations/{conversation_id}/canned")
async def canned_for(conversation_id: int, caller: CurrentAgent,
                     runtime: RuntimeDep) -> list[dict[str, Any]]:
    """The conversation's queue's canned responses, placeholders filled for this customer."""
    async with audited(runtime, caller), runtime.sessions() as session:
        await require_view(session, caller, conversation_id=conversation_id,
                           action="read_canned")
        return await canned.for_conversation(session, runtime.settings,
                                             conversation_id=conversation_id, caller=caller)


@router.get("/agents")
async def directory(caller: CurrentAgent, runtime: RuntimeDep) -> list[dict[str, Any]]:
    """Who a conversation can be transferred to: name, skills, presence (no loads)."""
    async with runtime.sessions() as session:
        return [{"agent_id": a.id, "display_name": a.display_name, "skills": a.skills,
                 "presence": a.presence} for a in await repository.all_agents(session)]


@router.get("/callbacks")
async def callbacks(caller: CurrentAgent, runtime: RuntimeDep) -> list[dict[str, Any]]:
    """Customers who chose a callback or left a message, in the caller's queues."""
    async with runtime.sessions() as session:
        agent = await repository.get_agent(session, agent_id=caller.agent_id or 0)
        skills = None if may_supervise(caller.role) else list(agent.skills or ())
        return [cards.entry_card(e) for e in await queues.open_callbacks(session, skills=skills)]


@router.post("/callbacks/{entry_id}/done")
async def callback_done(entry_id: int, caller: CurrentAgent,
                        runtime: RuntimeDep) -> dict[str, Any]:
    async with acting(runtime, caller) as tx:
        found = await tx.session.get(QueueEntry, entry_id)
        if found is not None and not may_supervise(caller.role):
            agent = await repository.get_agent(tx.session, agent_id=caller.agent_id or 0)
            if found.skill not in (agent.skills or ()):
                raise Denied("that callback is in a queue you do not work",
                             action="close_callback", entity="queue_entry", entity_id=entry_id)
        entry = await queues.close_callback(tx, entry_id=entry_id, agent_id=caller.agent_id or 0,
                                            now=utcnow())
        return cards.entry_card(entry)
