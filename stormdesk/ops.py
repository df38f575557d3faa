"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.http import RuntimeDep

router = APIRouter(tags=["ops"])

REQUESTS = Counter(
    "stormdesk_http_requests_total", "HTTP requests", ["method", "route", "status"]
)
LATENCY = Histogram(
    "stormdesk_http_request_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15),
)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers. Dependencies are /readyz's business."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    checks: dict[str, str] = {}
    ok = True
    for name, probe in runtime.probes.items():
        try:
            await asyncio.wait_for(probe(), timeout=2.0)
            checks[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            ok = False
            checks[name] = f"error: {type(exc).__name__}"
    return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks},
                        status_code=200 if ok else 503)


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    """Counts by route template, not raw path, so ids never explode the label set.

    Plain ASGI, not BaseHTTPMiddleware: that one runs every request through an extra task
    and a streaming wrapper, which cost more CPU than the SMS webhook's own work."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            method = scope.get("method", "")
            REQUESTS.labels(method, template, str(status)).inc()
            LATENCY.labels(method, template).observe(time.perf_counter() - start)
