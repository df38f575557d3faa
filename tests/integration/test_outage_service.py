"""The outage verbs against real SQLite and PostgreSQL: reports, roll-up, operations, races."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core.db import make_sessionmaker
from core.errors import Conflict, NotFound
from core.network.models import Feeder, Substation, Transformer
from core.outages import repository, service
from core.outages.enums import Device, DeviceKind, OutageStatus
from core.outages.events import (
    EtrChanged,
    OutageConfirmed,
    OutagePredicted,
    OutageProbable,
    OutageReported,
    OutageRestored,
    OutagesMerged,
)
from core.outages.models import Outage, OutageReport
from core.premises.models import Premise, ServicePoint

T0 = datetime(2026, 7, 4, 18, 0, tzinfo=UTC)


@dataclass
class Network:
    """Premises by transformer code; feeder A has eight 4-customer transformers, B one 1-customer."""

    substation: int = 0
    feeders: dict[str, int] = field(default_factory=dict)
    transformers: dict[str, int] = field(default_factory=dict)
    premises: dict[str, list[int]] = field(default_factory=dict)


async def build_network(session: AsyncSession) -> Network:
    net = Network()
    substation = Substation(code="SUB-1", name="Riverbend North")
    session.add(substation)
    await session.flush()
    net.substation = substation.id
    layout = {"A": [f"A{n}" for n in range(1, 9)], "B": ["B1"]}
    meter = 0
    for feeder_code, transformer_codes in layout.items():
        feeder = Feeder(code=f"FDR-{feeder_code}", substation_id=substation.id)
        session.add(feeder)
        await session.flush()
        net.feeders[feeder_code] = feeder.id
        for code in transformer_codes:
            transformer = Transformer(code=f"XFMR-{code}", feeder_id=feeder.id)
            session.add(transformer)
            await session.flush()
            net.transformers[code] = transformer.id
            net.premises[code] = []
            for house in range(1 if feeder_code == "B" else 4):
                premise = Premise(
                    address=f"{100 + house} {code} Street", city="Riverbend", state="LA",
                    zip="70001",
                )
                session.add(premise)
                await session.flush()
                meter += 1
                session.add(
                    ServicePoint(
                        premise_id=premise.id, service_kind="electric",
                        meter_number=f"M{meter:05d}", smart_meter=True,
                        transformer_id=transformer.id,
                    )
                )
                net.premises[code].append(premise.id)
    await session.flush()
    return net


@pytest.fixture(autouse=True)
def _fresh_engines() -> None:
    service.reset_engines()


@pytest.fixture
async def net(session: AsyncSession) -> Network:
    network = await build_network(session)
    await session.commit()
    return network


async def report(session: AsyncSession, premise_id: int, minutes: float = 0, **kw):
    return await service.report_outage(
        session, premise_id=premise_id, source=kw.pop("source", "customer"),
        at=T0 + timedelta(minutes=minutes), **kw,
    )


async def test_two_reports_under_a_transformer_predict_it(session, net) -> None:
    first = await report(session, net.premises["A1"][0])
    assert first.created and first.outage is None
    assert [type(e) for e in first.events] == [OutageReported]

    second = await report(session, net.premises["A1"][1], minutes=3)
    assert second.outage is not None
    assert second.outage.device == Device(DeviceKind.TRANSFORMER, net.transformers["A1"])
    assert second.outage.status == OutageStatus.PREDICTED
    assert second.outage.customers_affected == 4
    assert any(isinstance(e, OutagePredicted) for e in second.events)
    await session.commit()

    held = (await session.scalars(select(OutageReport.outage_id))).all()
    assert held == [second.outage.id, second.outage.id]


async def test_report_inside_a_known_outage_gets_its_etr(session, net) -> None:
    etr = T0 + timedelta(hours=4)
    confirmed = await service.confirm_outage(
        session, device=Device(DeviceKind.FEEDER, net.feeders["A"]), cause="tree on line", at=T0
    )
    await service.set_etr(session, outage_id=confirmed.outage.id, etr=etr, at=T0)
    await session.commit()

    outcome = await report(session, net.premises["A3"][2], minutes=10)
    assert outcome.created
    assert outcome.outage is not None and outcome.outage.id == confirmed.outage.id
    assert outcome.etr == etr
    assert outcome.report.outage_id == confirmed.outage.id
    count = await session.scalar(select(func.count()).select_from(Outage))
    assert count == 1


async def test_a_repeat_report_returns_the_open_one(session, net) -> None:
    premise = net.premises["A2"][0]
    first = await report(session, premise)
    again = await report(session, premise, minutes=5, source="last_gasp")
    assert not again.created and again.report.id == first.report.id
    assert again.events == []
    assert await session.scalar(select(func.count()).select_from(OutageReport)) == 1


async def test_the_database_allows_one_open_report_per_premise(session, net) -> None:
    premise = net.premises["A2"][1]
    session.add(OutageReport(premise_id=premise, source="customer", created_at=T0))
    await session.commit()
    session.add(OutageReport(premise_id=premise, source="agent", created_at=T0))
    with pytest.raises(IntegrityError):
        await session.flush()
    await session.rollback()

    await service.cancel_report(session, premise_id=premise, at=T0 + timedelta(minutes=1))
    again = await report(session, premise, minutes=2)
    assert again.created  # a cancelled report no longer blocks a new one
    await session.commit()


async def test_the_database_allows_one_live_outage_per_device(session, net) -> None:
    device = {"device_kind": "transformer", "device_id": net.transformers["A4"]}
    session.add(Outage(**device, status="restored", started_at=T0, restored_at=T0))
    session.add(Outage(**device, status="predicted", started_at=T0))
    await session.commit()
    session.add(Outage(**device, status="confirmed", started_at=T0))
    with pytest.raises(IntegrityError):
        await session.flush()
    await session.rollback()


async def test_three_transformers_roll_up_to_their_feeder(session, net) -> None:
    for minute, code in enumerate(["A1", "A1", "A2", "A2", "A3"]):
        outcome = await report(session, net.premises[code][minute % 2], minutes=minute)
        assert outcome.outage is None or outcome.outage.device_kind == "transformer"
    outcome = await report(session, net.premises["A3"][1], minutes=5)  # third transformer
    feeder_outage = outcome.outage
    assert feeder_outage is not None
    assert feeder_outage.device == Device(DeviceKind.FEEDER, net.feeders["A"])
    assert feeder_outage.customers_affected == 32
    merges = [e for e in outcome.events if isinstance(e, OutagesMerged)]
    assert len(merges) == 2  # A1 and A2 had their own outages; A3 never got one
    await session.commit()

    merged = (await session.scalars(select(Outage).where(Outage.device_kind == "transformer"))).all()
    assert merged and all(o.merged_into_id == feeder_outage.id for o in merged)
    holders = set((await session.scalars(select(OutageReport.outage_id))).all())
    assert holders == {feeder_outage.id}
    found = await service.outage_for_premise(session, net.premises["A4"][0])
    assert found is not None and found.id == feeder_outage.id


async def test_operations_run_an_outage_to_restoration(session, net) -> None:
    await report(session, net.premises["A1"][0])
    predicted = (await report(session, net.premises["A1"][1], minutes=1)).outage
    assert predicted is not None

    confirmed = await service.confirm_outage(session, outage_id=predicted.id, at=T0)
    assert [type(e) for e in confirmed.events] == [OutageConfirmed]
    assert confirmed.outage.status == OutageStatus.CONFIRMED

    first = await service.set_etr(session, outage_id=predicted.id, etr=T0 + timedelta(hours=2))
    second = await service.set_etr(session, outage_id=predicted.id, etr=T0 + timedelta(hours=3))
    unchanged = await service.set_etr(session, outage_id=predicted.id, etr=T0 + timedelta(hours=3))
    etr_events = [e for e in first.events + second.events if isinstance(e, EtrChanged)]
    assert [e.etr_version for e in etr_events] == [1, 2]
    assert etr_events[1].previous_etr == T0 + timedelta(hours=2)
    assert unchanged.events == []

    crewed = await service.set_crew(session, outage_id=predicted.id, crew="Crew 12")
    assert crewed.outage.status == OutageStatus.CREW_ASSIGNED
    caused = await service.set_cause(session, outage_id=predicted.id, cause="squirrel")
    assert caused.outage.cause == "squirrel"

    restored = await service.restore_outage(
        session, outage_id=predicted.id, at=T0 + timedelta(hours=2, minutes=50)
    )
    assert [type(e) for e in restored.events] == [OutageRestored]
    assert restored.outage.status == OutageStatus.RESTORED
    await session.commit()

    open_reports = await session.scalar(
        select(func.count()).select_from(OutageReport).where(OutageReport.closed_at.is_(None))
    )
    assert open_reports == 0
    assert await service.outage_for_premise(session, net.premises["A1"][0]) is None
    with pytest.raises(Conflict):
        await service.set_etr(session, outage_id=predicted.id, etr=T0 + timedelta(hours=5))

    # "Still out" after the restoration notice: a new report, the old ticket stays closed.
    nested = await report(session, net.premises["A1"][0], minutes=200)
    assert nested.created and nested.report.id != restored.outage.id


async def test_a_stale_version_is_a_conflict(engine: AsyncEngine, session, net) -> None:
    outage = (await service.confirm_outage(
        session, device=Device(DeviceKind.TRANSFORMER, net.transformers["A2"]), at=T0
    )).outage
    await session.commit()
    with pytest.raises(Conflict):
        await service.set_etr(
            session, outage_id=outage.id, etr=T0 + timedelta(hours=1),
            expected_version=outage.version - 1,
        )

    # Two operators load the same version; the second write loses instead of overwriting.
    sessions = make_sessionmaker(engine)
    async with sessions() as one, sessions() as two:
        await service.set_cause(one, outage_id=outage.id, cause="wind")
        stale = await two.get(Outage, outage.id)
        assert stale is not None
        await one.commit()
        with pytest.raises(Conflict):
            await service.set_etr(two, outage_id=outage.id, etr=T0 + timedelta(hours=6))
        await two.rollback()


async def test_cancelling_every_report_withdraws_the_prediction(session, net) -> None:
    premise = net.premises["B1"][0]
    gasp = await report(session, premise, source="last_gasp")
    assert gasp.outage is not None  # one of one customers: the transformer is out
    cancelled = await service.cancel_report(
        session, premise_id=premise, at=T0 + timedelta(minutes=4)
    )
    withdrawn = [e for e in cancelled.events if isinstance(e, OutageRestored)]
    assert withdrawn and withdrawn[0].withdrawn
    await session.commit()
    assert await service.outage_for_premise(session, premise) is None
    with pytest.raises(NotFound):
        await service.cancel_report(session, premise_id=premise)


async def test_a_prediction_becomes_probable_after_a_while(session, net) -> None:
    await report(session, net.premises["A1"][0])
    predicted = (await report(session, net.premises["A1"][1])).outage
    assert predicted is not None
    assert await service.tick(session, now=T0 + timedelta(minutes=5)) == []
    events = await service.tick(session, now=T0 + timedelta(minutes=20))
    assert [type(e) for e in events] == [OutageProbable]
    assert predicted.status == OutageStatus.PROBABLE


async def test_the_engine_rebuilds_from_open_reports(session, net) -> None:
    await report(session, net.premises["A4"][0])
    await session.commit()
    service.reset_engines()  # a new worker process: nothing in memory
    outcome = await report(session, net.premises["A4"][1], minutes=2)
    assert outcome.outage is not None
    assert outcome.outage.device == Device(DeviceKind.TRANSFORMER, net.transformers["A4"])


async def test_a_rolled_back_report_is_not_counted(session, net) -> None:
    await report(session, net.premises["A4"][0])
    await session.rollback()
    outcome = await report(session, net.premises["A4"][1], minutes=2)
    assert outcome.outage is None


async def test_operations_merge_two_outages(session, net) -> None:
    a1 = await service.confirm_outage(
        session, device=Device(DeviceKind.TRANSFORMER, net.transformers["A1"]), at=T0
    )
    b1 = await service.confirm_outage(
        session, device=Device(DeviceKind.TRANSFORMER, net.transformers["B1"]), at=T0
    )
    await report(session, net.premises["B1"][0], minutes=1)
    merged = await service.merge_outages(session, child_id=b1.outage.id, parent_id=a1.outage.id)
    assert [type(e) for e in merged.events] == [OutagesMerged]
    assert merged.outage.customers_affected == 5
    await session.commit()

    found = await service.outage_for_premise(session, net.premises["B1"][0])
    assert found is not None and found.id == a1.outage.id
    held = await session.scalar(select(OutageReport.outage_id))
    assert held == a1.outage.id

    await service.restore_outage(session, outage_id=a1.outage.id)
    await session.commit()
    child = await session.get(Outage, b1.outage.id)
    assert child is not None and child.status == OutageStatus.RESTORED


async def test_a_confirmed_transformer_stays_nested_in_a_predicted_feeder(session, net) -> None:
    nested = await service.confirm_outage(
        session, device=Device(DeviceKind.TRANSFORMER, net.transformers["A1"]), at=T0
    )
    for minute, code in enumerate(["A2", "A2", "A3", "A3"]):
        await report(session, net.premises[code][minute % 2], minutes=minute)
    feeder = await service.outage_for_premise(session, net.premises["A2"][0])
    assert feeder is not None and feeder.device_kind == "feeder"
    await session.commit()
    await session.refresh(nested.outage)
    assert nested.outage.status == OutageStatus.CONFIRMED
    assert nested.outage.merged_into_id is None
    inside = await service.outage_for_premise(session, net.premises["A1"][0])
    assert inside is not None and inside.id == nested.outage.id


async def test_racing_inserts_lose_quietly_to_the_unique_indexes(session, net) -> None:
    """What a second worker sees when it inserts just after the first one committed."""
    premise = net.premises["A5"][0]
    await report(session, premise)
    await service.confirm_outage(
        session, device=Device(DeviceKind.TRANSFORMER, net.transformers["A5"]), at=T0
    )
    await session.commit()
    late_report = await repository.insert_report(
        session, {"premise_id": premise, "source": "customer", "created_at": T0}
    )
    late_outage = await repository.insert_outage(
        session,
        {"device_kind": "transformer", "device_id": net.transformers["A5"],
         "status": "predicted", "started_at": T0, "customers_affected": 4, "updated_at": T0},
    )
    assert late_report is None and late_outage is None
    await session.commit()
    assert await session.scalar(select(func.count()).select_from(Outage)) == 1


async def test_unknown_premise_is_not_found(session, net) -> None:
    with pytest.raises(NotFound):
        await service.report_outage(session, premise_id=999_999, source="customer")
