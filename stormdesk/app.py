"""The app factory: routers, error handling, metrics, and the runtime's lifecycle."""

from __future__ import annotations

import errno
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from core.config import Settings, get_settings
from core.db import assert_migrated
from core.errors import DomainError
from core.logging import configure_logging
from core.runtime import Runtime
from stormdesk import hooks
from stormdesk.limits import BodyLimitMiddleware
from stormdesk.migrate import code_heads
from stormdesk.ops import MetricsMiddleware
from stormdesk.routes import routers
from stormdesk.wiring import build_runtime


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(level=settings.log_level, json=settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt = runtime or await build_runtime(settings)
        # Refuse to serve an unmigrated database rather than fail on the first request.
        await assert_migrated(rt.engine, code_heads())
        app.state.runtime = rt
        async with hooks.started(rt):
            yield
        if runtime is None:
            await rt.close()

    app = FastAPI(
        title="Stormdesk",
        version="0.1.0",
        description="Conversational omnichannel contact center for utilities.",
        lifespan=lifespan,
    )
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(BodyLimitMiddleware)

    @app.exception_handler(DomainError)
    async def _domain_error(_request: Request, exc: DomainError) -> JSONResponse:
        body: dict[str, object] = {"error": exc.code, "message": exc.message}
        if exc.detail:
            body["detail"] = exc.detail
        return JSONResponse(body, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return JSONResponse({"error": "invalid", "message": "request is malformed",
                             "detail": errors}, status_code=422)

    @app.exception_handler(OverflowError)
    @app.exception_handler(DBAPIError)
    async def _out_of_range(_request: Request, exc: Exception) -> JSONResponse:
        # An id or number past 64 bits reaches the driver unchecked (aiosqlite raises
        # OverflowError, asyncpg a DataError caused by one): the request is wrong, not the
        # server. A lost database is a 503 (below); any other database error stays a 500.
        if _dependency_down(exc):
            return _unavailable()
        if not _number_out_of_range(exc):
            raise exc
        return JSONResponse({"error": "invalid", "message": "a number in the request is out "
                             "of range"}, status_code=422)

    @app.exception_handler(OSError)
    @app.exception_handler(RedisError)
    @app.exception_handler(PoolTimeout)
    async def _down(_request: Request, exc: Exception) -> JSONResponse:
        if not _dependency_down(exc):
            raise exc
        return _unavailable()

    for router in routers():
        app.include_router(router)
    return app


def _unavailable() -> JSONResponse:
    # Twilio, SendGrid and the OMS retry a 503; Retry-After tells any other client when.
    return JSONResponse({"error": "unavailable", "message": "a backing service is unreachable; "
                         "retry shortly (a retry is never stored twice)"}, status_code=503,
                        headers={"Retry-After": "5"})


def _dependency_down(exc: BaseException) -> bool:
    """The database or Redis cannot be reached (refused, reset, dropped mid-statement). The
    sender may safely retry: a unit of work that failed rolled back, and one that committed
    before Redis failed is found again by its external id (and re-queued by the sweep)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, DBAPIError) and (seen.connection_invalidated
                                             or isinstance(seen, OperationalError
                                                           | InterfaceError)):
            return True
        # PoolTimeout: every pooled connection is stuck on a database that stopped answering.
        if isinstance(seen, ConnectionError | TimeoutError | RedisConnectionError | PoolTimeout):
            return True
        if isinstance(seen, OSError) and seen.errno in _NETWORK_ERRNOS:
            return True
        if type(seen).__name__ in ("ConnectionDoesNotExistError", "CannotConnectNowError",
                                   "ConnectionFailureError"):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


_NETWORK_ERRNOS = frozenset({errno.ECONNREFUSED, errno.ECONNRESET, errno.EPIPE,
                             errno.ETIMEDOUT, errno.EHOSTUNREACH, errno.ENETUNREACH})


def _number_out_of_range(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OverflowError | DataError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
