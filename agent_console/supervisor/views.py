"""REST for supervisors: the floor at a glance, people, the storm switch. Every route needs a
supervisor (or admin); an agent calling one is refused and audited."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from agent_console import conversations
from agent_console.account import actions as account_actions
from agent_console.auth.guard import CurrentSupervisor
from agent_console.live.log import SUPERVISORS, console_tx
from agent_console.routing import cards, presence, queues
from agent_console.schemas import AgentIn, AgentPatch, StormIn
from agent_console.storm import storm_switch
from core.agents import repository, service
from core.audit.service import record_audit
from core.clock import utcnow
from core.enums import Role
from core.errors import Forbidden
from core.http import RuntimeDep

router = APIRouter(prefix="/api/v1/supervisor", tags=["supervisor"])


@router.get("/overview")
async def overview(caller: CurrentSupervisor, runtime: RuntimeDep) -> dict[str, Any]:
    """Queues (waiting, longest wait, SLA), agents (presence, load), live conversations,
    approvals waiting, storm state."""
    now = utcnow()
    async with runtime.sessions() as session:
        agents = await repository.all_agents(session)
        loads = await repository.load_by_agent(session)
        live = []
        for agent in agents:
            for assignment in await repository.assignments_of(session, agent_id=agent.id):
                conversation = await conversations.get_conversation(
                    session, assignment.conversation_id)
                live.append({**cards.assignment_card(assignment),
                             "agent_name": agent.display_name,
                             "conversation": await conversations.card(session, conversation)})
        waiting = [cards.entry_card(e) for e in await repository.live_entries(session)]
        snapshot = await queues.snapshot(session, now=now)
    return {
        "queues": snapshot,
        "agents": [cards.agent_card(a, loads.get(a.id)) for a in agents],
        "conversations": live,
        "waiting": waiting,
        "approvals": await account_actions.pending_approvals(runtime),
        "storm": await storm_switch(runtime).current(),
    }


@router.get("/conversations/{conversation_id}")
async def monitor(conversation_id: int, caller: CurrentSupervisor,
                  runtime: RuntimeDep) -> dict[str, Any]:
    """Read-only view of any conversation (live updates: `monitor.start` on the websocket)."""
    async with runtime.sessions() as session:
        return await conversations.detail(session, conversation_id=conversation_id)


@router.post("/storm")
async def storm(body: StormIn, caller: CurrentSupervisor, runtime: RuntimeDep) -> dict[str, Any]:
    return await storm_switch(runtime).switch(on=body.on, by=caller, message=body.message)


@router.get("/storm")
async def storm_state(caller: CurrentSupervisor, runtime: RuntimeDep) -> dict[str, Any]:
    return await storm_switch(runtime).current()


@router.post("/agents")
async def create_agent(body: AgentIn, caller: CurrentSupervisor,
                       runtime: RuntimeDep) -> dict[str, Any]:
    """Supervisors enrol agents; only an admin creates supervisors and admins."""
    if body.role != Role.AGENT.value and caller.role != Role.ADMIN:
        raise Forbidden("only an admin creates supervisors and admins")
    async with console_tx(runtime) as tx:
        agent = await service.create_agent(tx.session, username=body.username,
                                           display_name=body.display_name,
                                           password=body.password, role=body.role,
                                           skills=body.skills, capacity=body.capacity)
        await record_audit(tx.session, caller=caller, action="agent_created", entity="agent",
                           entity_id=agent.id, account_id=None,
                           after={"username": agent.username, "role": agent.role,
                                  "skills": agent.skills})
        return cards.agent_card(agent)


@router.patch("/agents/{agent_id}")
async def update_agent(agent_id: int, body: AgentPatch, caller: CurrentSupervisor,
                       runtime: RuntimeDep) -> dict[str, Any]:
    """Skills, capacity, role, active; or set someone's presence (e.g. offline after a shift)."""
    if body.role is not None and caller.role != Role.ADMIN:
        raise Forbidden("only an admin changes roles")
    async with console_tx(runtime) as tx:
        before = cards.agent_card(await repository.get_agent(tx.session, agent_id=agent_id))
        agent = await service.update_agent(tx.session, agent_id=agent_id, skills=body.skills,
                                           capacity=body.capacity, role=body.role,
                                           active=body.active)
        if body.presence is not None:
            agent = await presence.set_presence(
                tx, agent_id=agent_id, presence=presence.parse_presence(body.presence),
                reason=f"set by {caller.name}", now=utcnow())
        after = cards.agent_card(agent)
        await record_audit(tx.session, caller=caller, action="agent_updated", entity="agent",
                           entity_id=agent_id, account_id=None, before=before, after=after)
        tx.emit(SUPERVISORS, "agent.updated", after)
        tx.kick = True
        return after
