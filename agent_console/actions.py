"""The console's verbs, shared by REST and the websocket: check role and assignment, do the
work in one transaction, announce it after commit."""

from __future__ import annotations

from typing import Any

from agent_console import conversations
from agent_console.auth.access import (
    Denied,
    acting,
    audited,
    require_holder,
    require_supervisor,
    require_view,
)
from agent_console.config import console_config
from agent_console.live.hub import publish_ephemeral
from agent_console.live.log import agent_audience
from agent_console.routing import cards, offers, presence, work
from core.agents.models import Offer
from core.agents.policy import AssignmentState, Skill
from core.auth.service import Caller
from core.clock import utcnow
from core.conversations import flows as conversation_flows
from core.conversations import service as conversation_service
from core.conversations.events import ReplyRecorded
from core.conversations.schemas import Reply
from core.errors import Invalid
from core.runtime import Runtime

TYPING_TOPIC = "conversations.typing"  # shared with channels that show typing (web chat)
MAX_REPLY = 1600
MONITORS_ONLY = "monitors"  # an audience nobody joins: only supervisors watching get it


def _agent_id(caller: Caller) -> int:
    if caller.agent_id is None:
        raise Invalid("only console users act here")
    return caller.agent_id


async def set_presence(runtime: Runtime, caller: Caller, *, value: str) -> dict[str, Any]:
    chosen = presence.parse_presence(value)
    async with acting(runtime, caller) as tx:
        agent = await presence.set_presence(tx, agent_id=_agent_id(caller), presence=chosen,
                                            reason="set by agent", now=utcnow())
        return cards.agent_card(agent)


async def _own_offer(runtime: Runtime, caller: Caller, offer_id: int, action: str) -> None:
    async with runtime.sessions() as session:
        offer = await session.get(Offer, offer_id)
    if offer is not None and offer.agent_id != caller.agent_id:
        raise Denied("this offer was made to another agent", action=action, entity="offer",
                     entity_id=offer_id)


async def accept_offer(runtime: Runtime, caller: Caller, *, offer_id: int) -> dict[str, Any]:
    async with audited(runtime, caller):
        await _own_offer(runtime, caller, offer_id, "accept_offer")
    async with acting(runtime, caller) as tx:
        assignment = await offers.accept(tx, offer_id=offer_id, agent_id=_agent_id(caller),
                                         now=utcnow())
        return cards.assignment_card(assignment)


async def decline_offer(runtime: Runtime, caller: Caller, *, offer_id: int) -> dict[str, Any]:
    async with audited(runtime, caller):
        await _own_offer(runtime, caller, offer_id, "decline_offer")
    async with acting(runtime, caller) as tx:
        offer = await offers.decline(tx, offer_id=offer_id, agent_id=_agent_id(caller),
                                     now=utcnow())
        return cards.offer_card(offer)


async def send_message(runtime: Runtime, caller: Caller, *, conversation_id: int,
                       text: str) -> dict[str, Any]:
    """Record the agent's reply (the channel dispatcher sends it) and stop the first-response
    clock, in one transaction with the console event."""
    text = text.strip()
    if not text:
        raise Invalid("a message needs text")
    if len(text) > MAX_REPLY:
        raise Invalid(f"a message is at most {MAX_REPLY} characters")
    async with acting(runtime, caller) as tx:
        await require_holder(tx.session, caller, conversation_id=conversation_id,
                             action="send_message",
                             states=(AssignmentState.ACTIVE, AssignmentState.WRAP_UP))
        assignment = await work.held(tx, conversation_id=conversation_id,
                                     states=(AssignmentState.ACTIVE, AssignmentState.WRAP_UP))
        now = utcnow()
        await work.note_first_response(tx, assignment=assignment, now=now)
        rows = await conversation_service.record_reply(
            tx.session, conversation_id=conversation_id, reply=Reply(text=text), author="agent")
        views = [conversations.message_view(row) for row in rows]
        for row in rows:
            tx.publish_after(ReplyRecorded(conversation_id=conversation_id, message_id=row.id,
                                           author="agent", channel=row.channel))
        ids = [row.id for row in rows]

        async def dispatch() -> None:  # after commit: the channel sender takes it from here
            for message_id in ids:
                await runtime.queue.enqueue(conversation_flows.OUTBOUND_STREAM,
                                            {"message_id": message_id})

        tx.after.insert(0, dispatch)
        tx.emit(agent_audience(assignment.agent_id), "message.out",
                {"conversation_id": conversation_id, "messages": views,
                 "agent_id": caller.agent_id}, conversation_id=conversation_id)
        return {"conversation_id": conversation_id, "messages": views}


async def add_note(runtime: Runtime, caller: Caller, *, conversation_id: int,
                   body: str) -> dict[str, Any]:
    async with acting(runtime, caller) as tx:
        await require_holder(tx.session, caller, conversation_id=conversation_id,
                             action="add_note", supervisor_ok=True,
                             states=(AssignmentState.ACTIVE, AssignmentState.WRAP_UP))
        note = await work.add_note(tx, conversation_id=conversation_id,
                                   agent_id=_agent_id(caller), author=caller.name, body=body,
                                   now=utcnow())
        return {"note_id": note.id, "conversation_id": conversation_id, "body": note.body}


async def transfer(runtime: Runtime, caller: Caller, *, conversation_id: int,
                   to_agent_id: int | None = None, to_skill: str | None = None,
                   note: str | None = None) -> dict[str, Any]:
    skill = None
    if to_skill is not None:
        try:
            skill = Skill(to_skill)
        except ValueError as exc:
            raise Invalid(f"unknown queue {to_skill!r}") from exc
    async with acting(runtime, caller) as tx:
        await require_holder(tx.session, caller, conversation_id=conversation_id,
                             action="transfer", supervisor_ok=True)
        assignment = await work.transfer(tx, conversation_id=conversation_id,
                                         by_agent_id=_agent_id(caller), now=utcnow(),
                                         to_agent_id=to_agent_id, to_skill=skill, note=note,
                                         author=caller.name)
        return cards.assignment_card(assignment)


async def start_wrap_up(runtime: Runtime, caller: Caller, *,
                        conversation_id: int) -> dict[str, Any]:
    async with acting(runtime, caller) as tx:
        await require_holder(tx.session, caller, conversation_id=conversation_id,
                             action="wrap_up")
        assignment = await work.start_wrap_up(tx, conversation_id=conversation_id, now=utcnow(),
                                              wrap_up_s=console_config(runtime).wrap_up_s)
        return cards.assignment_card(assignment)


async def complete_wrap_up(runtime: Runtime, caller: Caller, *, conversation_id: int,
                           disposition: str, notes: str | None = None) -> dict[str, Any]:
    async with acting(runtime, caller) as tx:
        await require_holder(tx.session, caller, conversation_id=conversation_id,
                             action="wrap_up",
                             states=(AssignmentState.ACTIVE, AssignmentState.WRAP_UP))
        assignment = await work.complete_wrap_up(
            tx, conversation_id=conversation_id, disposition=disposition, notes=notes,
            now=utcnow(), wrap_up_s=console_config(runtime).wrap_up_s)
        return cards.assignment_card(assignment)


async def hand_back(runtime: Runtime, caller: Caller, *, conversation_id: int,
                    note: str | None = None) -> dict[str, Any]:
    async with acting(runtime, caller) as tx:
        await require_holder(tx.session, caller, conversation_id=conversation_id,
                             action="hand_back")
        assignment = await work.hand_back(tx, conversation_id=conversation_id, now=utcnow(),
                                          note=note)
        return cards.assignment_card(assignment)


async def typing(runtime: Runtime, caller: Caller, *, conversation_id: int) -> None:
    """Tell the customer's channel (web chat shows it) and any supervisor watching."""
    async with audited(runtime, caller), runtime.sessions() as session:
        await require_holder(session, caller, conversation_id=conversation_id, action="typing")
    await runtime.bus.publish(TYPING_TOPIC, {"conversation_id": conversation_id,
                                             "who": "agent", "agent_id": caller.agent_id})
    await publish_ephemeral(runtime, audience=MONITORS_ONLY, kind="typing",
                            conversation_id=conversation_id,
                            data={"who": "agent", "agent_id": caller.agent_id})


async def view_conversation(runtime: Runtime, caller: Caller, *,
                            conversation_id: int) -> dict[str, Any]:
    """The card, the bot's transcript and hand-off summary, notes and the assignment."""
    async with audited(runtime, caller), runtime.sessions() as session:
        await require_view(session, caller, conversation_id=conversation_id)
        return await conversations.detail(session, conversation_id=conversation_id)


def monitor_allowed(caller: Caller, *, conversation_id: int) -> None:
    require_supervisor(caller, action="monitor", entity="conversation",
                       entity_id=conversation_id)
