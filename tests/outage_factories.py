"""Outage API test factories: a small grid, the app with a token per role, a bus recorder."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit.models import AuditEntry
from core.auth.service import create_token
from core.config import Settings
from core.db import unit_of_work
from core.network.models import Feeder, Substation, Transformer
from core.outages import service
from core.ports import EventBus
from core.premises.models import Premise, ServicePoint
from core.runtime import Runtime
from stormdesk.app import create_app

ROLES = {"ops": "operations", "sue": "supervisor", "amy": "agent", "ivr": "integration",
         "root": "admin"}


@dataclass
class Grid:
    """Feeder A: transformers A1 and A2 with three premises each; feeder B: B1 with two."""

    feeders: dict[str, int] = field(default_factory=dict)
    transformers: dict[str, int] = field(default_factory=dict)
    premises: dict[str, list[int]] = field(default_factory=dict)
    meters: dict[str, list[str]] = field(default_factory=dict)


async def small_grid(session: AsyncSession) -> Grid:
    grid = Grid()
    substation = Substation(code="SUB-1", name="Riverbend North")
    session.add(substation)
    await session.flush()
    for feeder_code, transformers in {"A": {"A1": 3, "A2": 3}, "B": {"B1": 2}}.items():
        feeder = Feeder(code=f"FDR-{feeder_code}", substation_id=substation.id)
        session.add(feeder)
        await session.flush()
        grid.feeders[feeder_code] = feeder.id
        for code, houses in transformers.items():
            transformer = Transformer(code=f"XFMR-{code}", feeder_id=feeder.id)
            session.add(transformer)
            await session.flush()
            grid.transformers[code] = transformer.id
            grid.premises[code], grid.meters[code] = [], []
            for house in range(1, houses + 1):
                premise = Premise(address=f"{house} {code} Street", city="Riverbend",
                                  state="LA", zip="70001")
                session.add(premise)
                await session.flush()
                meter = f"MTR-{code}-{house}"
                session.add(ServicePoint(premise_id=premise.id, service_kind="electric",
                                         meter_number=meter, smart_meter=True,
                                         transformer_id=transformer.id))
                grid.premises[code].append(premise.id)
                grid.meters[code].append(meter)
    await session.flush()
    return grid


class RecordingBus:
    """Forwards to the real bus and keeps the outage events published, in order (other
    domains' listeners publish on the same bus)."""

    def __init__(self, inner: EventBus) -> None:
        self.inner = inner
        self.published: list[tuple[str, dict[str, Any]]] = []

    async def publish(self, topic: str, payload: dict[str, Any]) -> None:
        if topic.startswith("outage."):
            self.published.append((topic, payload))
        await self.inner.publish(topic, payload)

    async def publish_many(self, events: Sequence[tuple[str, dict[str, Any]]], *,
                           release: Any = None) -> None:
        for topic, payload in events:
            await self.publish(topic, payload)
        if release is not None:
            await release.release()

    def subscribe(self, topic: str) -> AbstractAsyncContextManager[AsyncIterator[dict[str, Any]]]:
        return self.inner.subscribe(topic)

    async def close(self) -> None:
        await self.inner.close()

    @property
    def topics(self) -> list[str]:
        return [topic for topic, _ in self.published]


@dataclass
class OutageApi:
    app: FastAPI
    client: httpx.AsyncClient
    tokens: dict[str, dict[str, str]]
    bus: RecordingBus
    grid: Grid

    @property
    def runtime(self) -> Runtime:
        return self.app.state.runtime

    def as_(self, name: str) -> dict[str, str]:
        return self.tokens[name]

    async def count(self, model: type, *where: Any) -> int:
        async with self.runtime.sessions() as session:
            query = select(func.count()).select_from(model).where(*where)
            return int(await session.scalar(query) or 0)

    async def audit(self, entity: str) -> list[AuditEntry]:
        async with self.runtime.sessions() as session:
            rows = await session.scalars(
                select(AuditEntry).where(AuditEntry.entity == entity).order_by(AuditEntry.id))
            return list(rows)


@asynccontextmanager
async def outage_api(db_url: str, **settings: Any) -> AsyncIterator[OutageApi]:
    service.reset_engines()
    app = create_app(Settings(database_url=db_url, env="test", log_json=False, **settings))
    async with app.router.lifespan_context(app):
        runtime: Runtime = app.state.runtime
        bus = RecordingBus(runtime.bus)
        runtime.bus = bus
        tokens = {}
        async with unit_of_work(runtime.sessions) as session:
            for name, role in ROLES.items():
                _, raw = await create_token(session, name=name, role=role)
                tokens[name] = {"Authorization": f"Bearer {raw}"}
            grid = await small_grid(session)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://test") as client:
            yield OutageApi(app, client, tokens, bus, grid)
    service.reset_engines()
