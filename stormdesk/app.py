"""The app factory: routers, error handling, metrics, and the runtime's lifecycle."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError

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
        # server. Any other database error stays a 500.
        if not _number_out_of_range(exc):
            raise exc
        return JSONResponse({"error": "invalid", "message": "a number in the request is out "
                             "of range"}, status_code=422)

    for router in routers():
        app.include_router(router)
    return app


def _number_out_of_range(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OverflowError | DataError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
