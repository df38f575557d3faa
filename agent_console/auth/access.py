"""Server-side checks of role and assignment: what this caller may see and do, right now.

A refusal raises `Denied` (a 403) inside the work's transaction; `acting` rolls that work back
first and then audits the refusal in a transaction of its own (on SQLite a second writer would
wait for the first), so every refusal leaves a trace and nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_console.auth.guard import audit_refusal
from agent_console.live.log import ConsoleTx, console_tx
from core.accounts.models import Account
from core.agents.models import Assignment, Offer
from core.agents.policy import AssignmentState, OfferOutcome, may_supervise
from core.auth.service import Caller
from core.conversations.models import Conversation
from core.errors import Forbidden
from core.runtime import Runtime


class Denied(Forbidden):
    """A 403 that names what was refused, so it can be audited."""

    def __init__(self, message: str, *, action: str, entity: str,
                 entity_id: int | str | None) -> None:
        super().__init__(message)
        self.action = action
        self.entity = entity
        self.entity_id = entity_id


@asynccontextmanager
async def audited(runtime: Runtime, caller: Caller) -> AsyncIterator[None]:
    try:
        yield
    except Denied as denied:
        await audit_refusal(runtime, actor=caller.name, actor_role=caller.role.value,
                            action=denied.action, entity=denied.entity,
                            entity_id=denied.entity_id, reason=denied.message)
        raise


@asynccontextmanager
async def acting(runtime: Runtime, caller: Caller) -> AsyncIterator[ConsoleTx]:
    """A console transaction whose refusals are audited after it rolls back."""
    async with audited(runtime, caller), console_tx(runtime) as tx:
        yield tx


def require_supervisor(caller: Caller, *, action: str, entity: str = "supervisor_action",
                       entity_id: int | str | None = None) -> None:
    if not may_supervise(caller.role):
        raise Denied("this needs a supervisor", action=action, entity=entity,
                     entity_id=entity_id)


async def holds(session: AsyncSession, *, agent_id: int, conversation_id: int,
                states: tuple[AssignmentState, ...] = (AssignmentState.ACTIVE,
                                                       AssignmentState.WRAP_UP)) -> bool:
    return bool(await session.scalar(select(exists().where(
        Assignment.live_key == conversation_id, Assignment.agent_id == agent_id,
        Assignment.state.in_([s.value for s in states])))))


async def is_offered(session: AsyncSession, *, agent_id: int, conversation_id: int) -> bool:
    return bool(await session.scalar(select(exists().where(
        Offer.conversation_id == conversation_id, Offer.agent_id == agent_id,
        Offer.outcome == OfferOutcome.PENDING.value))))


async def require_holder(session: AsyncSession, caller: Caller, *, conversation_id: int,
                         action: str, supervisor_ok: bool = False,
                         states: tuple[AssignmentState, ...] = (AssignmentState.ACTIVE,)) -> None:
    """The caller holds this conversation (or is a supervisor, where that is allowed)."""
    if supervisor_ok and may_supervise(caller.role):
        return
    if caller.agent_id is not None and await holds(
            session, agent_id=caller.agent_id, conversation_id=conversation_id, states=states):
        return
    raise Denied("you do not hold this conversation", action=action, entity="conversation",
                 entity_id=conversation_id)


async def require_view(session: AsyncSession, caller: Caller, *, conversation_id: int,
                       action: str = "read_conversation") -> None:
    """Supervisors see every conversation; an agent sees the ones they hold or are offered."""
    if may_supervise(caller.role):
        return
    if caller.agent_id is not None and (
            await holds(session, agent_id=caller.agent_id, conversation_id=conversation_id)
            or await is_offered(session, agent_id=caller.agent_id,
                                conversation_id=conversation_id)):
        return
    raise Denied("this conversation is not yours", action=action, entity="conversation",
                 entity_id=conversation_id)


async def customers_held(session: AsyncSession, *, agent_id: int) -> set[int]:
    rows = await session.scalars(
        select(Conversation.customer_id)
        .join(Assignment, Assignment.live_key == Conversation.id)
        .where(Assignment.agent_id == agent_id, Conversation.customer_id.is_not(None)))
    return {r for r in rows if r is not None}


async def require_account(session: AsyncSession, caller: Caller, *, account_id: int,
                          action: str = "read_account") -> None:
    """An agent works on the accounts of the customers whose conversations they hold."""
    if may_supervise(caller.role):
        return
    if caller.agent_id is not None:
        owner = await session.scalar(select(Account.customer_id).where(Account.id == account_id))
        if owner is not None and owner in await customers_held(session,
                                                                agent_id=caller.agent_id):
            return
    raise Denied("this account is not part of a conversation you hold", action=action,
                 entity="account", entity_id=account_id)
