"""The notice planner on SQLite and PostgreSQL: who is told, once per address, never the
opted-out; ETR threshold, supersede and quiet hours; restoration; catch-up planning."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core.db import make_sessionmaker
from core.notifications.flows import plan_missing, plan_notices
from core.notifications.models import Notice, NoticeBatch, NoticeKind, NoticeStatus
from core.notifications.policy import NoticePolicy, quiet_hours_end
from core.outages import service as outages
from core.outages.enums import Device, DeviceKind
from core.premises.models import Premise, ServicePoint
from core.storm.synthetic import SyntheticUtility, build_synthetic_utility

T0 = datetime(2026, 7, 4, 18, 0, tzinfo=UTC)  # 1 pm in Chicago: outside quiet hours
NO_QUIET = NoticePolicy(quiet_start=time(0), quiet_end=time(0))


@pytest.fixture
async def utility(engine: AsyncEngine) -> SyntheticUtility:
    outages.reset_engines()
    return await build_synthetic_utility(engine, customers=300, per_transformer=4,
                                         per_feeder=100)


async def _notices(session: AsyncSession, outage_id: int, kind: NoticeKind) -> list[Notice]:
    rows = await session.scalars(
        select(Notice).where(Notice.outage_id == outage_id, Notice.kind == kind.value)
        .execution_options(populate_existing=True))
    return list(rows.all())


async def _confirm(session: AsyncSession, feeder_id: int, policy: NoticePolicy,
                   at: datetime = T0) -> int:
    change = await outages.confirm_outage(session, device=Device(DeviceKind.FEEDER, feeder_id),
                                          at=at)
    await plan_notices(session, change.events, policy=policy, now=at)
    await session.commit()
    return change.outage.id


async def test_initial_alert_reaches_each_subscribed_address_once(
        engine: AsyncEngine, utility: SyntheticUtility) -> None:
    feeder = utility.feeder_ids[0]
    async with make_sessionmaker(engine)() as session:
        # A landlord: customer 0 also rents out a second premise on the same feeder.
        landlord_premise = Premise(account_id=None, address="1 Landlord Row", city="Riverbend",
                                   state="LA", zip="70001")
        session.add(landlord_premise)
        await session.flush()
        first = await session.get(Premise, utility.premise_ids[0])
        assert first is not None
        landlord_premise.account_id = first.account_id
        session.add(ServicePoint(premise_id=landlord_premise.id, service_kind="electric",
                                 meter_number="LANDLORD-1",
                                 transformer_id=utility.transformer_ids[0]))
        await session.commit()
        outage_id = await _confirm(session, feeder, NO_QUIET)
        rows = await _notices(session, outage_id, NoticeKind.INITIAL)

    addresses = [r.address for r in rows]
    assert len(addresses) == len(set(addresses)), "an address was planned twice"
    assert set(addresses) == utility.expected_addresses([feeder])
    # The shared number of households 98/99 once; STOP-ed (7, 57) and no-alert (3, 13) never.
    assert "+17000000098" in addresses
    assert "+17000000007" not in addresses and "+17000000003" not in addresses
    by_address = {r.address: r for r in rows}
    assert by_address["whatsapp:+17000000011"].channel == "whatsapp"
    assert by_address["+17000000005"].channel == "sms"  # voice preference: texted
    assert by_address["storm4@example.net"].channel == "email"
    assert by_address["+17000000014"].language == "es"
    assert {r.status for r in rows} == {NoticeStatus.PENDING.value}
    assert all(r.urgent for r in rows)


async def test_planning_twice_plans_once(engine: AsyncEngine, utility: SyntheticUtility) -> None:
    feeder = utility.feeder_ids[1]
    async with make_sessionmaker(engine)() as session:
        outage_id = await _confirm(session, feeder, NO_QUIET)
        first = len(await _notices(session, outage_id, NoticeKind.INITIAL))
        again = await plan_missing(session, policy=NO_QUIET, now=T0)
        await session.commit()
        assert again == []
        assert len(await _notices(session, outage_id, NoticeKind.INITIAL)) == first > 0


async def test_etr_threshold_and_supersede(engine: AsyncEngine, utility: SyntheticUtility) -> None:
    feeder = utility.feeder_ids[0]
    async with make_sessionmaker(engine)() as session:
        outage_id = await _confirm(session, feeder, NO_QUIET)
        # The initial alert went out before any ETR change (otherwise it carries the ETR).
        initial = await _notices(session, outage_id, NoticeKind.INITIAL)
        for row in initial:
            row.status = NoticeStatus.SENT.value
        await session.commit()

        async def etr(hours: float, at_minutes: int) -> None:
            at = T0 + timedelta(minutes=at_minutes)
            change = await outages.set_etr(session, outage_id=outage_id,
                                           etr=T0 + timedelta(hours=hours), at=at)
            await plan_notices(session, change.events, policy=NO_QUIET, now=at)
            await session.commit()

        await etr(3, 1)  # unknown → known: told
        v1 = await _notices(session, outage_id, NoticeKind.ETR)
        assert v1 and {r.version for r in v1} == {1}
        await etr(3.25, 2)  # moved 15 min < 30: not told
        assert len(await _notices(session, outage_id, NoticeKind.ETR)) == len(v1)
        await etr(5, 3)  # moved 105 min from what they heard: told, v1 superseded
        rows = await _notices(session, outage_id, NoticeKind.ETR)
        by_version: dict[int, set[str]] = {}
        for row in rows:
            by_version.setdefault(row.version, set()).add(row.status)
        assert by_version == {1: {NoticeStatus.SUPERSEDED.value},
                              3: {NoticeStatus.PENDING.value}}
        batches = (await session.scalars(select(NoticeBatch).where(
            NoticeBatch.outage_id == outage_id).order_by(NoticeBatch.id))).all()
        assert [(b.kind, b.version) for b in batches] == [("initial", 0), ("etr", 1), ("etr", 3)]


async def test_etr_update_waits_for_quiet_hours(engine: AsyncEngine,
                                                utility: SyntheticUtility) -> None:
    night = datetime(2026, 7, 5, 4, 0, tzinfo=UTC)  # 11 pm in Chicago
    policy = NoticePolicy(quiet_start=time(21), quiet_end=time(8), timezone="America/Chicago")
    async with make_sessionmaker(engine)() as session:
        outage_id = await _confirm(session, utility.feeder_ids[2], policy, at=night)
        initial = await _notices(session, outage_id, NoticeKind.INITIAL)
        assert {r.status for r in initial} == {NoticeStatus.PENDING.value}  # urgent: now
        for row in initial:
            row.status = NoticeStatus.SENT.value
        change = await outages.set_etr(session, outage_id=outage_id,
                                       etr=night + timedelta(hours=6), at=night)
        await plan_notices(session, change.events, policy=policy, now=night)
        await session.commit()
        rows = await _notices(session, outage_id, NoticeKind.ETR)
    morning = datetime(2026, 7, 5, 13, 0, tzinfo=UTC)  # 8 am in Chicago
    assert rows and {r.status for r in rows} == {NoticeStatus.HELD_QUIET_HOURS.value}
    assert {r.not_before for r in rows} == {morning}


async def test_restoration_supersedes_unsent_and_tells_everyone(
        engine: AsyncEngine, utility: SyntheticUtility) -> None:
    feeder = utility.feeder_ids[1]
    async with make_sessionmaker(engine)() as session:
        outage_id = await _confirm(session, feeder, NO_QUIET)
        change = await outages.restore_outage(session, outage_id=outage_id,
                                              at=T0 + timedelta(hours=2))
        await plan_notices(session, change.events, policy=NO_QUIET, now=T0 + timedelta(hours=2))
        await session.commit()
        initial = await _notices(session, outage_id, NoticeKind.INITIAL)
        restored = await _notices(session, outage_id, NoticeKind.RESTORATION)
    assert {r.status for r in initial} == {NoticeStatus.SUPERSEDED.value}
    assert {r.address for r in restored} == utility.expected_addresses([feeder])


async def test_merged_transformer_customers_are_not_alerted_twice(
        engine: AsyncEngine, utility: SyntheticUtility) -> None:
    async with make_sessionmaker(engine)() as session:
        transformer = utility.transformer_ids[0]
        change = await outages.confirm_outage(
            session, device=Device(DeviceKind.TRANSFORMER, transformer), at=T0)
        await plan_notices(session, change.events, policy=NO_QUIET, now=T0)
        small = change.outage.id
        told = {r.address for r in await _notices(session, small, NoticeKind.INITIAL)}
        big = await outages.confirm_outage(
            session, device=Device(DeviceKind.FEEDER, utility.feeder_ids[0]), at=T0)
        await outages.merge_outages(session, child_id=small, parent_id=big.outage.id, at=T0)
        await plan_notices(session, big.events, policy=NO_QUIET, now=T0)
        await session.commit()
        feeder_told = {r.address for r in await _notices(session, big.outage.id,
                                                         NoticeKind.INITIAL)}
    assert told and not told & feeder_told
    assert told | feeder_told == utility.expected_addresses([utility.feeder_ids[0]])


async def test_catch_up_planning_alerts_a_probable_outage(
        engine: AsyncEngine, utility: SyntheticUtility) -> None:
    """The roll-up tick promotes predictions without anyone calling the planner."""
    async with make_sessionmaker(engine)() as session:
        for premise in utility.premise_ids[:4]:  # every house under transformer 0
            await outages.report_outage(session, premise_id=premise, source="customer", at=T0)
        await session.commit()
        await outages.tick(session, now=T0 + timedelta(minutes=20))
        await session.commit()
        planned = await plan_missing(session, policy=NoticePolicy(), now=T0)
        await session.commit()
        count = await session.scalar(select(func.count()).select_from(Notice))
    assert [p.kind for p in planned] == [NoticeKind.INITIAL]
    assert count == planned[0].notices > 0


def test_quiet_hours_window() -> None:
    chicago = "America/Chicago"
    end = quiet_hours_end(datetime(2026, 1, 10, 4, 0, tzinfo=UTC), start=time(21),
                          end=time(8), timezone=chicago)  # 10 pm CST
    assert end == datetime(2026, 1, 10, 14, 0, tzinfo=UTC)  # 8 am CST
    assert quiet_hours_end(datetime(2026, 1, 10, 18, 0, tzinfo=UTC), start=time(21),
                           end=time(8), timezone=chicago) is None
    early = quiet_hours_end(datetime(2026, 1, 10, 12, 0, tzinfo=UTC), start=time(21),
                            end=time(8), timezone=chicago)  # 6 am CST, same day
    assert early == datetime(2026, 1, 10, 14, 0, tzinfo=UTC)
