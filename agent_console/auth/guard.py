"""Request guards for the console: every refusal is audited, then raised.

A refusal's audit row is written in its own transaction, because the request's own work rolls
back with the error. Rows per actor are rate-limited so a flood of bad requests cannot flood
the audit trail (the overflow is logged instead)."""

from __future__ import annotations

import logging
from typing import Annotated, NoReturn

from fastapi import Depends, Request

from agent_console.auth import tokens
from core.agents.policy import may_supervise
from core.audit.models import AuditEntry
from core.auth.service import Caller
from core.clock import utcnow
from core.db import unit_of_work
from core.errors import DomainError, Forbidden, Unauthorized
from core.http import RuntimeDep
from core.runtime import Runtime

log = logging.getLogger(__name__)


async def audit_refusal(
    runtime: Runtime,
    *,
    actor: str,
    actor_role: str,
    action: str,
    entity: str,
    entity_id: int | str | None,
    reason: str,
) -> None:
    wait = await runtime.limiter.try_acquire(f"console:refusals:{actor}", rate=1.0, burst=30)
    if wait > 0:
        log.warning("refusal not audited (rate limit): %s %s %s %s", actor, action, entity,
                    entity_id)
        return
    async with unit_of_work(runtime.sessions) as session:
        session.add(AuditEntry(
            at=utcnow(), actor=actor[:80], actor_role=actor_role[:16],
            action=f"denied:{action}"[:40], entity=entity[:40],
            entity_id=None if entity_id is None else str(entity_id)[:40],
            account_id=None, before=None, after=None, reason=reason[:200],
        ))


async def refuse(
    runtime: Runtime,
    caller: Caller,
    error: DomainError,
    *,
    action: str,
    entity: str,
    entity_id: int | str | None = None,
) -> NoReturn:
    """Audit that `caller` was refused `action` on `entity`, then raise `error`."""
    await audit_refusal(runtime, actor=caller.name, actor_role=caller.role.value, action=action,
                        entity=entity, entity_id=entity_id, reason=error.message)
    raise error


def bearer(request: Request) -> str | None:
    scheme, _, raw = request.headers.get("authorization", "").partition(" ")
    return raw.strip() if scheme.lower() == "bearer" and raw.strip() else None


def _anonymous(request: Request) -> str:
    host = request.client.host if request.client else "unknown"
    return f"anonymous@{host}"


async def authenticate_raw(runtime: Runtime, raw: str | None, *, who: str, action: str) -> Caller:
    """A console caller from a raw token, or an audited 401 (no token, expired, forged)."""
    if not raw:
        error = Unauthorized("a console token is required", reason="missing")
        await audit_refusal(runtime, actor=who, actor_role="none", action=action,
                            entity="console", entity_id=None, reason=error.message)
        raise error
    try:
        caller, _ = tokens.verify(raw, secret_key=runtime.settings.secret_key.get_secret_value())
    except Unauthorized as error:
        await audit_refusal(runtime, actor=who, actor_role="none", action=action,
                            entity="console", entity_id=None, reason=error.message)
        raise
    return caller


async def _current_agent(request: Request, runtime: RuntimeDep) -> Caller:
    return await authenticate_raw(runtime, bearer(request), who=_anonymous(request),
                                  action=f"{request.method} {request.url.path}")


CurrentAgent = Annotated[Caller, Depends(_current_agent)]


async def _supervisor(request: Request, runtime: RuntimeDep, caller: CurrentAgent) -> Caller:
    if not may_supervise(caller.role):
        await refuse(runtime, caller, Forbidden("this needs a supervisor"),
                     action=f"{request.method} {request.url.path}", entity="supervisor_action")
    return caller


CurrentSupervisor = Annotated[Caller, Depends(_supervisor)]
