"""The app refuses an unmigrated database, answers health probes, and guards the API."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter

from core.auth.service import authenticate, create_token
from core.config import Settings
from core.db import make_engine, make_sessionmaker, unit_of_work
from core.errors import Unauthorized, Unavailable
from core.http import CurrentCaller
from stormdesk.app import create_app


def _settings(url: str) -> Settings:
    return Settings(database_url=url, env="test", log_json=False)


async def test_unmigrated_database_is_refused(tmp_path: Path) -> None:
    app = create_app(_settings(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"))
    with pytest.raises(Unavailable, match="stormdesk migrate"):
        async with app.router.lifespan_context(app):
            pass


async def test_health_ready_metrics(db_url: str) -> None:
    app = create_app(_settings(db_url))
    async with (app.router.lifespan_context(app),
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                  base_url="http://t") as client):
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"]["database"] == "ok"
        metrics = await client.get("/metrics")
        assert "stormdesk_http_requests_total" in metrics.text


async def test_bearer_tokens(db_url: str) -> None:
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    async with unit_of_work(sessions) as session:
        _, raw = await create_token(session, name="ops", role="admin")
    async with sessions() as session:
        caller = await authenticate(session, raw)
        assert caller.role == "admin" and caller.name == "token:ops"
        with pytest.raises(Unauthorized):
            await authenticate(session, raw + "x")
    await engine.dispose()

    probe = APIRouter()

    @probe.get("/probe")
    async def whoami(caller: CurrentCaller) -> dict[str, str]:
        return {"role": caller.role.value}

    app = create_app(_settings(db_url))
    app.include_router(probe)
    async with (app.router.lifespan_context(app),
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                  base_url="http://t") as client):
        assert (await client.get("/probe")).status_code == 401
        bad = await client.get("/probe", headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401
        ok = await client.get("/probe", headers={"Authorization": f"Bearer {raw}"})
        assert ok.json() == {"role": "admin"}
