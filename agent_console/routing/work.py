"""What an agent does with a conversation they hold: reply, note, transfer, wrap up, hand back."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from agent_console import conversations
from agent_console.live.log import SUPERVISORS, ConsoleTx, agent_audience
from agent_console.routing import cards
from agent_console.routing.queues import enqueue
from core.agents import repository
from core.agents.models import Assignment, ConversationNote, Disposition
from core.agents.policy import AssignmentState, Presence, Skill
from core.conversations.policy import Owner
from core.errors import Conflict, Invalid, NotFound


async def held(tx: ConsoleTx, *, conversation_id: int,
               states: tuple[AssignmentState, ...] = (AssignmentState.ACTIVE,)) -> Assignment:
    """The live assignment of a conversation, locked, in one of `states` (else 409)."""
    assignment = await tx.session.scalar(
        select(Assignment).where(Assignment.live_key == conversation_id).with_for_update())
    if assignment is None:
        raise Conflict("nobody holds this conversation", conversation_id=conversation_id)
    if assignment.state not in states:
        raise Conflict(f"the conversation is in {assignment.state}",
                       conversation_id=conversation_id, state=assignment.state)
    return assignment


def _end(assignment: Assignment, state: AssignmentState, now: datetime) -> None:
    assignment.state = state.value
    assignment.live_key = None
    assignment.ended_at = now


async def note_first_response(tx: ConsoleTx, *, assignment: Assignment, now: datetime) -> None:
    if assignment.first_response_at is None:
        assignment.first_response_at = now


async def add_note(tx: ConsoleTx, *, conversation_id: int, agent_id: int, author: str,
                   body: str, now: datetime) -> ConversationNote:
    body = body.strip()
    if not body:
        raise Invalid("a note needs text")
    note = ConversationNote(conversation_id=conversation_id, agent_id=agent_id,
                            body=body[:4000], created_at=now)
    tx.session.add(note)
    await tx.session.flush()
    holder = await repository.live_assignment(tx.session, conversation_id=conversation_id)
    audiences = [agent_audience(agent_id)]
    if holder is not None:
        audiences.append(agent_audience(holder.agent_id))
    tx.emit(audiences, "note.added", {"note_id": note.id, "conversation_id": conversation_id,
                                      "agent_id": agent_id, "author": author,
                                      "body": note.body, "at": now.isoformat()},
            conversation_id=conversation_id)
    return note


async def transfer(tx: ConsoleTx, *, conversation_id: int, by_agent_id: int, now: datetime,
                   to_agent_id: int | None = None, to_skill: Skill | None = None,
                   note: str | None = None, author: str = "") -> Assignment:
    """Back to a queue (a skill's, or reserved for one named agent), with a note for them."""
    if to_agent_id is None and to_skill is None:
        raise Invalid("transfer to an agent or to a queue")
    if to_agent_id is not None:
        target = await repository.get_agent(tx.session, agent_id=to_agent_id)
        if not target.active or target.presence == Presence.OFFLINE:
            raise Conflict(f"{target.display_name} is offline", agent_id=to_agent_id)
    assignment = await held(tx, conversation_id=conversation_id)
    _end(assignment, AssignmentState.TRANSFERRED, now)
    await tx.session.flush()
    await conversations.move(tx, conversation_id=conversation_id, to=Owner.QUEUED.value,
                             reason="transfer")
    conversation = await conversations.get_conversation(tx.session, conversation_id)
    entry = await enqueue(tx, conversation=conversation, now=now,
                          skill=to_skill or Skill(assignment.skill),
                          target_agent_id=to_agent_id, transferred_by=by_agent_id, note=note)
    if note:
        await add_note(tx, conversation_id=conversation_id, agent_id=by_agent_id, author=author,
                       body=f"Transfer: {note}", now=now)
    tx.emit([agent_audience(assignment.agent_id), SUPERVISORS], "conversation.transferred",
            {**cards.assignment_card(assignment), "entry": cards.entry_card(entry),
             "note": note}, conversation_id=conversation_id)
    return assignment


async def start_wrap_up(tx: ConsoleTx, *, conversation_id: int, now: datetime,
                        wrap_up_s: float) -> Assignment:
    assignment = await held(tx, conversation_id=conversation_id)
    assignment.state = AssignmentState.WRAP_UP.value
    assignment.wrap_up_started_at = now
    assignment.wrap_up_due = now + timedelta(seconds=wrap_up_s)
    await conversations.move(tx, conversation_id=conversation_id, to=Owner.WRAP_UP.value,
                             reason="wrap_up")
    await tx.session.flush()
    tx.emit([agent_audience(assignment.agent_id), SUPERVISORS], "conversation.wrap_up",
            cards.assignment_card(assignment), conversation_id=conversation_id)
    return assignment


async def complete_wrap_up(tx: ConsoleTx, *, conversation_id: int, disposition: str,
                           notes: str | None, now: datetime, wrap_up_s: float) -> Assignment:
    """Record the disposition and close the conversation (starting wrap-up first if needed)."""
    if await tx.session.get(Disposition, disposition) is None:
        raise Invalid(f"unknown disposition {disposition!r}")
    assignment = await held(tx, conversation_id=conversation_id,
                            states=(AssignmentState.ACTIVE, AssignmentState.WRAP_UP))
    if assignment.state == AssignmentState.ACTIVE:
        await start_wrap_up(tx, conversation_id=conversation_id, now=now, wrap_up_s=wrap_up_s)
    assignment.disposition = disposition
    assignment.wrap_up_notes = (notes or "").strip()[:4000] or None
    _end(assignment, AssignmentState.DONE, now)
    await conversations.move(tx, conversation_id=conversation_id, to=Owner.CLOSED.value,
                             reason=f"disposition:{disposition}")
    agent = await repository.get_agent(tx.session, agent_id=assignment.agent_id, for_update=True)
    agent.idle_since = now
    await tx.session.flush()
    tx.emit([agent_audience(assignment.agent_id), SUPERVISORS], "conversation.closed",
            cards.assignment_card(assignment), conversation_id=conversation_id)
    tx.kick = True  # capacity freed
    return assignment


async def expire_wrap_ups(tx: ConsoleTx, *, now: datetime) -> int:
    """A wrap-up left open past its timer closes itself, so the agent's capacity comes back."""
    due = list(await tx.session.scalars(
        select(Assignment.conversation_id).where(
            Assignment.state == AssignmentState.WRAP_UP.value, Assignment.wrap_up_due <= now)))
    for conversation_id in due:
        await complete_wrap_up(tx, conversation_id=conversation_id,
                               disposition="wrap_up_expired", notes=None, now=now, wrap_up_s=0)
    return len(due)


async def hand_back(tx: ConsoleTx, *, conversation_id: int, now: datetime,
                    note: str | None = None) -> Assignment:
    """The bot takes the conversation again (e.g. the customer only needs a payment link)."""
    assignment = await held(tx, conversation_id=conversation_id)
    _end(assignment, AssignmentState.HANDED_BACK, now)
    assignment.wrap_up_notes = (note or "").strip()[:4000] or None
    await tx.session.flush()
    # The state machine has no agent → bot edge: through the queue, which may go back to bot.
    await conversations.move(tx, conversation_id=conversation_id, to=Owner.QUEUED.value,
                             reason="hand_back")
    await conversations.move(tx, conversation_id=conversation_id, to=Owner.BOT.value,
                             reason="hand_back")
    agent = await repository.get_agent(tx.session, agent_id=assignment.agent_id, for_update=True)
    agent.idle_since = now
    await tx.session.flush()
    tx.emit([agent_audience(assignment.agent_id), SUPERVISORS], "conversation.handed_back",
            cards.assignment_card(assignment), conversation_id=conversation_id)
    tx.kick = True
    return assignment


async def get_assignment(tx: ConsoleTx, *, conversation_id: int) -> Assignment:
    found = await repository.live_assignment(tx.session, conversation_id=conversation_id)
    if found is None:
        raise NotFound("nobody holds this conversation", conversation_id=conversation_id)
    return found
