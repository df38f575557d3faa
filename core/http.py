"""FastAPI dependency aliases defined once (STYLE 10): DbSession, CurrentCaller, role guards."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth.service import Caller, authenticate
from core.db import unit_of_work
from core.enums import Role
from core.errors import Forbidden, Unauthorized
from core.runtime import Runtime


# Dependencies are `async def` even when they never await: FastAPI runs a plain `def` one in
# its thread pool, a thread hop per request (py-spy: ~7% of the SMS webhook's samples).
async def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def _db_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    # Commit when the endpoint returns, before the response goes out: a failed commit is an
    # error the client sees, never a 200 for something half-written.
    async with unit_of_work(runtime.sessions) as session:
        yield session


DbSession = Annotated[AsyncSession, Depends(_db_session, scope="function")]


async def _current_caller(request: Request, runtime: RuntimeDep) -> Caller:
    header = request.headers.get("authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise Unauthorized("a bearer token is required")
    verifier = runtime.extras.get("jwt_verifier")
    if verifier is not None and raw.count(".") == 2:
        return verifier(raw.strip())
    async with runtime.sessions() as session:
        return await authenticate(session, raw.strip())


CurrentCaller = Annotated[Caller, Depends(_current_caller)]


def require_role(*roles: Role) -> Callable[[Caller], Awaitable[Caller]]:
    allowed = set(roles) | {Role.ADMIN}

    async def guard(caller: CurrentCaller) -> Caller:
        if caller.role not in allowed:
            raise Forbidden(f"role {caller.role.value} may not do this")
        return caller

    return guard
