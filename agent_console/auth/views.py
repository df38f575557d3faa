"""Sign-in for the console: password → short-lived JWT; refresh while working; sign out."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from agent_console.auth import tokens
from agent_console.auth.guard import CurrentAgent, audit_refusal
from agent_console.config import console_config
from agent_console.live.log import console_tx
from agent_console.routing import cards, presence
from agent_console.schemas import LoginIn
from core.agents import repository, service
from core.agents.policy import Presence
from core.clock import utcnow
from core.errors import DomainError, Unauthorized
from core.http import RuntimeDep

router = APIRouter(prefix="/api/v1/agent", tags=["agent console"])


class TooManyAttempts(DomainError):
    status_code = 429
    code = "too_many_attempts"


@router.post("/login")
async def login(body: LoginIn, request: Request, runtime: RuntimeDep) -> dict[str, Any]:
    """Check the password (argon2) and hand out a token that lives `token_ttl_s`."""
    username = body.username.strip().lower()
    host = request.client.host if request.client else "unknown"
    # Per name and per address, so guessing one password or spraying many names both stall.
    for key in (f"console:login:user:{username}", f"console:login:ip:{host}"):
        wait = await runtime.limiter.try_acquire(key, rate=0.2, burst=10)
        if wait > 0:
            raise TooManyAttempts("too many sign-in attempts; try again shortly",
                                  retry_after_s=round(wait, 1))
    try:
        async with console_tx(runtime) as tx:
            agent = await service.check_credentials(tx.session, username=username,
                                                    password=body.password)
    except Unauthorized as error:
        await audit_refusal(runtime, actor=f"login:{username}@{host}", actor_role="none",
                            action="login", entity="agent", entity_id=username,
                            reason=error.message)
        raise
    issued = tokens.issue(agent, secret_key=runtime.settings.secret_key.get_secret_value(),
                          ttl_s=console_config(runtime).token_ttl_s)
    return {"token": issued.token, "expires_at": issued.expires_at,
            "agent": cards.agent_card(agent)}


@router.post("/token")
async def refresh(caller: CurrentAgent, runtime: RuntimeDep) -> dict[str, Any]:
    """A fresh token for a signed-in, still active agent (the console calls this on a timer)."""
    async with runtime.sessions() as session:
        agent = await repository.get_agent(session, agent_id=caller.agent_id or 0)
    if not agent.active:
        raise Unauthorized("this account is disabled")
    issued = tokens.issue(agent, secret_key=runtime.settings.secret_key.get_secret_value(),
                          ttl_s=console_config(runtime).token_ttl_s)
    return {"token": issued.token, "expires_at": issued.expires_at}


@router.post("/logout")
async def logout(caller: CurrentAgent, runtime: RuntimeDep) -> dict[str, Any]:
    """Signing out gives back any offer and stops new ones."""
    async with console_tx(runtime) as tx:
        agent = await presence.set_presence(tx, agent_id=caller.agent_id or 0,
                                            presence=Presence.OFFLINE, reason="signed out",
                                            now=utcnow())
    return cards.agent_card(agent)
