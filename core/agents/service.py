"""Agent verbs that need nothing from the console: enrol, check a password, change settings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from core.agents import repository
from core.agents.models import Agent
from core.agents.passwords import hash_password, needs_rehash, verify_password
from core.agents.policy import CONSOLE_ROLES, DEFAULT_CAPACITY, Presence, Skill
from core.clock import utcnow
from core.enums import Role
from core.errors import Conflict, Invalid, Unauthorized


def _role(role: Role | str) -> Role:
    try:
        parsed = Role(role)
    except ValueError as exc:
        raise Invalid(f"unknown role {role!r}") from exc
    if parsed not in CONSOLE_ROLES:
        raise Invalid("console users are agents, supervisors or admins")
    return parsed


def _skills(skills: Iterable[str]) -> list[str]:
    try:
        return sorted({Skill(s.strip().lower()).value for s in skills if s.strip()})
    except ValueError as exc:
        raise Invalid(f"unknown skill in {list(skills)!r}", known=[s.value for s in Skill]) from exc


def _capacity(capacity: Mapping[str, int] | None) -> dict[str, int]:
    merged = dict(DEFAULT_CAPACITY)
    for channel, count in (capacity or {}).items():
        if not 0 <= int(count) <= 20:
            raise Invalid("capacity per channel is between 0 and 20")
        merged[channel] = int(count)
    return merged


async def create_agent(
    session: AsyncSession,
    *,
    username: str,
    display_name: str,
    password: str,
    role: Role | str = Role.AGENT,
    skills: Iterable[str] = (),
    capacity: Mapping[str, int] | None = None,
) -> Agent:
    username = username.strip().lower()
    if not username or len(username) > 64:
        raise Invalid("a username is 1 to 64 characters")
    if await repository.by_username(session, username=username) is not None:
        raise Conflict(f"username {username!r} is taken", username=username)
    parsed_role = _role(role)
    agent = Agent(
        username=username,
        display_name=display_name.strip()[:80] or username,
        password_hash=hash_password(password),
        role=parsed_role.value,
        skills=_skills(skills) or ([s.value for s in Skill] if parsed_role != Role.AGENT else []),
        capacity=_capacity(capacity),
        presence=Presence.OFFLINE.value,
        presence_since=utcnow(),
        idle_since=utcnow(),
        active=True,
    )
    session.add(agent)
    await session.flush()
    return agent


async def check_credentials(session: AsyncSession, *, username: str, password: str) -> Agent:
    """The agent, or Unauthorized with one message whether the name or the password was wrong."""
    agent = await repository.by_username(session, username=username)
    if not verify_password(agent.password_hash if agent else None, password) or agent is None:
        raise Unauthorized("wrong username or password")
    if not agent.active:
        raise Unauthorized("this account is disabled")
    if needs_rehash(agent.password_hash):
        agent.password_hash = hash_password(password)
        await session.flush()
    return agent


async def update_agent(
    session: AsyncSession,
    *,
    agent_id: int,
    skills: Iterable[str] | None = None,
    capacity: Mapping[str, int] | None = None,
    role: Role | str | None = None,
    active: bool | None = None,
) -> Agent:
    agent = await repository.get_agent(session, agent_id=agent_id, for_update=True)
    if skills is not None:
        agent.skills = _skills(skills)
    if capacity is not None:
        agent.capacity = _capacity(capacity)
    if role is not None:
        agent.role = _role(role).value
    if active is not None:
        agent.active = active
        if not active:
            agent.presence = Presence.OFFLINE.value
    await session.flush()
    return agent
