"""Storm mode on SQLite and PostgreSQL: the supervisor's audited switch over the API, the
automatic switch with hysteresis, what others ask of it, the cached outage picture, and the
dashboard's JSON and page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.audit.models import AuditEntry
from core.auth.service import create_token
from core.config import Settings
from core.db import make_sessionmaker, unit_of_work
from core.outages import service as outages
from core.outages.enums import Device, DeviceKind
from core.storm import service
from core.storm.models import StormState
from core.storm.picture import OutagePicture
from core.storm.policy import StormPolicy
from core.storm.synthetic import build_synthetic_utility
from stormdesk.app import create_app

T0 = datetime(2026, 8, 29, 14, 0, tzinfo=UTC)
POLICY = StormPolicy(on_rpm=20, off_rpm=5, calm_for=timedelta(minutes=10))


@pytest.fixture
async def api(db_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, dict[str, str]],
                                                  object]]:
    app = create_app(Settings(database_url=db_url, env="test", log_json=False))
    async with app.router.lifespan_context(app):
        tokens = {}
        async with unit_of_work(app.state.runtime.sessions) as session:
            for name, role in (("amy", "agent"), ("sue", "supervisor"), ("ops", "operations")):
                _, raw = await create_token(session, name=name, role=role)
                tokens[name] = {"Authorization": f"Bearer {raw}"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://test") as client:
            yield client, tokens, app.state.runtime


async def test_supervisor_switches_storm_mode_and_it_is_audited(api: tuple) -> None:
    client, tokens, runtime = api
    storm = runtime.extras["storm"]
    assert runtime.extras["storm_switch"] is storm  # the console's toggle is this switch
    assert (await client.get("/api/v1/storm", headers=tokens["amy"])).json()["active"] is False
    refused = await client.put("/api/v1/storm", json={"active": True}, headers=tokens["amy"])
    assert refused.status_code == 403
    async with runtime.bus.subscribe("storm.changed") as events:
        response = await client.put("/api/v1/storm", headers=tokens["sue"], json={
            "active": True, "message": "Hurricane Ida: crews are out.", "reason": "landfall"})
        assert response.status_code == 200, response.text
        announced = await anext(aiter(events))
    body = response.json()
    assert body["active"] and body["source"] == "supervisor"
    assert body["greeting"] == "Hurricane Ida: crews are out."
    assert announced["on"] is True and announced["by"] == "token:sue"
    assert await storm.active() and await storm.paused("collections")
    assert await storm.paused("billing") and not await storm.paused("reply")
    assert await storm.emergency_first()
    async with runtime.sessions() as session:
        audit = (await session.scalars(select(AuditEntry).where(
            AuditEntry.action == "storm_mode"))).all()
    assert [(a.actor, a.before["active"], a.after["active"], a.reason) for a in audit] == [
        ("token:sue", False, True, "landfall")]
    await client.put("/api/v1/storm", headers=tokens["sue"], json={"active": False})
    assert not await storm.active()
    assert await storm.greeting() is None


async def test_dashboard_json_and_page(api: tuple) -> None:
    client, tokens, _ = api
    data = (await client.get("/api/v1/storm/dashboard", headers=tokens["sue"])).json()
    assert set(data) >= {"storm", "reports_per_minute", "outages", "notices", "queues",
                         "worst_feeders"}
    assert len(data["reports_per_minute"]["counts"]) == 60
    page = await client.get("/console/storm")
    assert page.status_code == 200 and "<canvas" in page.text and "//cdn" not in page.text


async def test_automatic_switch_has_hysteresis(engine: AsyncEngine) -> None:
    utility = await build_synthetic_utility(engine, customers=200, per_transformer=4,
                                            per_feeder=100)
    outages.reset_engines()
    sessions = make_sessionmaker(engine)

    async def reports(count: int, at: datetime, start: int) -> None:
        async with unit_of_work(sessions) as session:
            for premise in utility.premise_ids[start:start + count]:
                await outages.report_outage(session, premise_id=premise, source="last_gasp",
                                            at=at)

    async def evaluate(at: datetime) -> bool:
        async with unit_of_work(sessions) as session:
            change = await service.evaluate(session, policy=POLICY, now=at)
            return change.state.active

    await reports(10, T0, 0)
    assert not await evaluate(T0 + timedelta(seconds=30))  # 10 a minute: below 20
    await reports(25, T0 + timedelta(minutes=1), 10)
    assert await evaluate(T0 + timedelta(minutes=1, seconds=30))  # 25: on
    await reports(8, T0 + timedelta(minutes=3), 35)
    assert await evaluate(T0 + timedelta(minutes=3, seconds=30))  # 8 is above off (5): on
    assert await evaluate(T0 + timedelta(minutes=5))  # calm starts
    assert await evaluate(T0 + timedelta(minutes=14))  # calm for 9 minutes only
    assert not await evaluate(T0 + timedelta(minutes=15, seconds=1))  # calm for 10: off
    async with sessions() as session:
        state = await session.get(StormState, 1)
        assert state is not None and state.version == 2 and state.changed_by == "storm-monitor"


async def test_supervisor_on_is_not_switched_off_automatically(engine: AsyncEngine) -> None:
    sessions = make_sessionmaker(engine)
    from core.auth.service import Caller
    from core.enums import Role

    async with unit_of_work(sessions) as session:
        await service.switch(session, caller=Caller(name="sue", role=Role.SUPERVISOR),
                             active=True, now=T0)
    async with unit_of_work(sessions) as session:
        change = await service.evaluate(session, policy=POLICY, now=T0 + timedelta(hours=2))
    assert change.state.active and change.event is None


async def test_outage_picture_answers_without_a_scan_per_message(engine: AsyncEngine) -> None:
    utility = await build_synthetic_utility(engine, customers=200, per_transformer=4,
                                            per_feeder=100)
    outages.reset_engines()
    sessions = make_sessionmaker(engine)
    async with unit_of_work(sessions) as session:
        change = await outages.confirm_outage(
            session, device=Device(DeviceKind.FEEDER, utility.feeder_ids[0]), cause="tree", at=T0)
        await outages.set_etr(session, outage_id=change.outage.id, etr=T0 + timedelta(hours=5))
    picture = OutagePicture(sessions, ttl_s=60)
    inside, outside = utility.premise_ids[5], utility.premise_ids[150]
    found = await picture.outage_for_premise(inside)
    assert found is not None and found.id == change.outage.id and found.cause == "tree"
    assert found.etr == T0 + timedelta(hours=5) and found.status == "confirmed"
    assert await picture.outage_for_premise(outside) is None
    reads = picture.database_reads
    for _ in range(100):
        assert (await picture.outage_for_premise(inside)) is not None
        assert await picture.outage_for_premise(outside) is None
    assert picture.database_reads == reads  # cached: no query per message
