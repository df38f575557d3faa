"""The roll-up engine on generated networks: the right device is predicted, and never un-predicted."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.outages.enums import Device, DeviceKind, OutageStatus
from core.outages.inference import InferenceEngine, Merge, Predict, Promote, Topology, Withdraw
from core.outages.policy import RollupPolicy

T0 = datetime(2026, 8, 29, 14, 0, tzinfo=UTC)
SUB, FDR, XFMR, SP = (
    DeviceKind.SUBSTATION,
    DeviceKind.FEEDER,
    DeviceKind.TRANSFORMER,
    DeviceKind.SERVICE_POINT,
)


@dataclass
class Network:
    """A generated network, with the lists a test needs to pick reports from."""

    topology: Topology
    feeders: dict[int, list[int]] = field(default_factory=dict)  # substation → feeders
    transformers: dict[int, list[int]] = field(default_factory=dict)  # feeder → transformers
    service_points: dict[int, list[int]] = field(default_factory=dict)  # transformer → sps

    def devices(self) -> list[Device]:
        found = [Device(SUB, s) for s in self.feeders]
        found += [Device(FDR, f) for f in self.transformers]
        found += [Device(XFMR, t) for t in self.service_points]
        found += [Device(SP, sp) for sps in self.service_points.values() for sp in sps]
        return found


def generate(
    seed: int,
    *,
    substations: int = 2,
    feeders: tuple[int, int] = (2, 4),
    transformers: tuple[int, int] = (3, 8),
    customers: tuple[int, int] = (1, 12),
) -> Network:
    """Substations → feeders → transformers → service points, with varying customer counts."""
    rng = random.Random(seed)
    rows: list[tuple[int | None, int | None, int | None, int]] = []
    net = Network(Topology())
    next_id = {"f": 100, "t": 1000, "sp": 10_000}
    for substation in range(1, substations + 1):
        net.feeders[substation] = []
        for _ in range(rng.randint(*feeders)):
            feeder = next_id["f"] = next_id["f"] + 1
            net.feeders[substation].append(feeder)
            net.transformers[feeder] = []
            for _ in range(rng.randint(*transformers)):
                transformer = next_id["t"] = next_id["t"] + 1
                net.transformers[feeder].append(transformer)
                net.service_points[transformer] = []
                for _ in range(rng.randint(*customers)):
                    sp = next_id["sp"] = next_id["sp"] + 1
                    net.service_points[transformer].append(sp)
                    rows.append((sp, transformer, feeder, substation))
    net.topology = Topology.from_rows(rows)
    return net


def predicted(decisions: list) -> list[Device]:
    return [d.device for d in decisions if isinstance(d, Predict)]


@pytest.mark.parametrize("seed", range(8))
def test_scattered_single_reports_predict_at_most_small_transformers(seed: int) -> None:
    net = generate(seed)
    engine = InferenceEngine(net.topology)
    rng = random.Random(seed)
    decisions = []
    for transformers in net.transformers.values():  # one report per feeder
        transformer = rng.choice(transformers)
        sp = rng.choice(net.service_points[transformer])
        decisions += engine.add_report(sp, T0 + timedelta(minutes=len(decisions)))
    for device in engine.outages():
        assert device.kind is XFMR
        # One report is half or more of its customers: one- and two-customer transformers only.
        assert net.topology.customers(device) <= 2
    assert set(predicted(decisions)) == set(engine.outages())


@pytest.mark.parametrize("seed", range(8))
def test_many_reports_under_one_transformer_predict_that_transformer(seed: int) -> None:
    net = generate(seed, customers=(4, 12))
    rng = random.Random(seed)
    feeder = rng.choice(list(net.transformers))
    transformer = rng.choice(net.transformers[feeder])
    engine = InferenceEngine(net.topology)
    for minute, sp in enumerate(net.service_points[transformer]):
        engine.add_report(sp, T0 + timedelta(minutes=minute))
    assert engine.outages() == {Device(XFMR, transformer): OutageStatus.PREDICTED}
    assert engine.customers_affected(Device(XFMR, transformer)) == len(
        net.service_points[transformer]
    )


@pytest.mark.parametrize("seed", range(8))
def test_reports_under_three_transformers_predict_their_feeder(seed: int) -> None:
    net = generate(seed, transformers=(4, 8), customers=(2, 12))
    rng = random.Random(seed)
    feeder = rng.choice(list(net.transformers))
    chosen = rng.sample(net.transformers[feeder], 3)
    engine = InferenceEngine(net.topology)
    decisions = []
    for minute, transformer in enumerate(chosen):
        for sp in net.service_points[transformer][:2]:
            decisions += engine.add_report(sp, T0 + timedelta(minutes=minute))
    feeder_device = Device(FDR, feeder)
    assert engine.outages() == {feeder_device: OutageStatus.PREDICTED}
    assert predicted(decisions).count(feeder_device) == 1
    merged = {d.child for d in decisions if isinstance(d, Merge)}
    # The first two had their own predictions; the third only if one report was enough for it.
    assert {Device(XFMR, chosen[0]), Device(XFMR, chosen[1])} <= merged
    assert merged <= {Device(XFMR, t) for t in chosen}
    for transformer in net.transformers[feeder]:  # the prediction covers every device below
        assert engine.covering(Device(XFMR, transformer)) == feeder_device
        for sp in net.service_points[transformer]:
            assert engine.covering(Device(SP, sp)) == feeder_device


def test_transformer_outages_hours_apart_do_not_predict_their_feeder() -> None:
    net = generate(4, substations=1, feeders=(1, 1), transformers=(6, 6), customers=(8, 8))
    feeder = next(iter(net.transformers))
    engine = InferenceEngine(net.topology)
    for hour, transformer in enumerate(net.transformers[feeder][:4]):
        for sp in net.service_points[transformer][:2]:
            engine.add_report(sp, T0 + timedelta(hours=hour))
    assert set(engine.outages()) == {Device(XFMR, t) for t in net.transformers[feeder][:4]}


def test_three_predicted_feeders_predict_their_substation() -> None:
    net = generate(3, substations=1, feeders=(4, 4), transformers=(4, 4), customers=(4, 4))
    engine = InferenceEngine(net.topology)
    substation = next(iter(net.feeders))
    minute = 0
    for feeder in net.feeders[substation][:3]:
        for transformer in net.transformers[feeder][:3]:
            for sp in net.service_points[transformer][:2]:
                engine.add_report(sp, T0 + timedelta(minutes=minute // 6))
                minute += 1
    assert engine.outages() == {Device(SUB, substation): OutageStatus.PREDICTED}
    assert engine.customers_affected(Device(SUB, substation)) == 64


def test_a_confirmed_outage_is_never_re_predicted_or_merged_away() -> None:
    net = generate(5, substations=1, feeders=(1, 1), transformers=(5, 5), customers=(4, 4))
    feeder = next(iter(net.transformers))
    first, second, third, *_ = net.transformers[feeder]
    engine = InferenceEngine(net.topology)
    engine.confirm(Device(XFMR, first), T0)
    # Every customer under it calls: explained by the confirmed outage, nothing new.
    for sp in net.service_points[first]:
        assert engine.add_report(sp, T0) == []
    assert engine.outages() == {Device(XFMR, first): OutageStatus.CONFIRMED}

    # Two more transformers out: three out on the feeder, so the feeder is predicted above it.
    for transformer in (second, third):
        for sp in net.service_points[transformer][:2]:
            engine.add_report(sp, T0 + timedelta(minutes=1))
    assert engine.outages() == {
        Device(XFMR, first): OutageStatus.CONFIRMED,
        Device(FDR, feeder): OutageStatus.PREDICTED,
    }
    assert engine.outage_device_for(net.service_points[first][0]) == Device(XFMR, first)
    assert engine.outage_device_for(net.service_points[second][0]) == Device(FDR, feeder)

    # Time passes: the confirmed one is neither promoted nor touched.
    promotions = engine.tick(T0 + timedelta(hours=1))
    assert promotions == [Promote(Device(FDR, feeder), T0 + timedelta(minutes=16))]
    assert engine.outages()[Device(XFMR, first)] is OutageStatus.CONFIRMED


def test_a_confirmed_feeder_covers_everything_below() -> None:
    net = generate(6, substations=1, feeders=(1, 1), transformers=(4, 4), customers=(3, 3))
    feeder = next(iter(net.transformers))
    engine = InferenceEngine(net.topology)
    assert engine.confirm(Device(FDR, feeder), T0) == []
    for transformer in net.transformers[feeder]:
        for sp in net.service_points[transformer]:
            assert engine.add_report(sp, T0) == []
    assert engine.outages() == {Device(FDR, feeder): OutageStatus.CONFIRMED}


def test_confirming_a_parent_absorbs_predictions_below_it() -> None:
    net = generate(7, substations=1, feeders=(1, 1), transformers=(6, 6), customers=(4, 4))
    feeder = next(iter(net.transformers))
    transformer = net.transformers[feeder][0]
    engine = InferenceEngine(net.topology)
    for sp in net.service_points[transformer][:2]:
        engine.add_report(sp, T0)
    decisions = engine.confirm(Device(FDR, feeder), T0 + timedelta(minutes=3))
    assert decisions == [Merge(Device(XFMR, transformer), Device(FDR, feeder), 24,
                               T0 + timedelta(minutes=3))]
    assert engine.outages() == {Device(FDR, feeder): OutageStatus.CONFIRMED}


def test_reports_group_only_inside_the_window() -> None:
    net = generate(8, substations=1, feeders=(1, 1), transformers=(3, 3), customers=(10, 10))
    transformer = net.transformers[next(iter(net.transformers))][0]
    sps = net.service_points[transformer]
    engine = InferenceEngine(net.topology)
    assert engine.add_report(sps[0], T0) == []
    assert engine.add_report(sps[1], T0 + timedelta(minutes=31)) == []  # the first has expired
    assert predicted(engine.add_report(sps[2], T0 + timedelta(minutes=40))) == [
        Device(XFMR, transformer)
    ]


def test_a_late_report_does_not_count_as_recent() -> None:
    net = generate(8, substations=1, feeders=(1, 1), transformers=(3, 3), customers=(10, 10))
    transformer = net.transformers[next(iter(net.transformers))][0]
    sps = net.service_points[transformer]
    engine = InferenceEngine(net.topology)
    engine.tick(T0 + timedelta(hours=2))
    assert engine.add_report(sps[0], T0) == []  # a stale report replayed hours late
    assert engine.add_report(sps[1], T0 + timedelta(hours=2)) == []
    assert engine.open_reports == 2


def test_policy_thresholds_are_configurable() -> None:
    net = generate(9, substations=1, feeders=(1, 1), transformers=(3, 3), customers=(10, 10))
    transformer = net.transformers[next(iter(net.transformers))][0]
    sps = net.service_points[transformer]
    engine = InferenceEngine(net.topology, RollupPolicy(transformer_min_reports=3))
    assert engine.add_report(sps[0], T0) == []
    assert engine.add_report(sps[1], T0) == []
    assert predicted(engine.add_report(sps[2], T0)) == [Device(XFMR, transformer)]
    with pytest.raises(ValueError):
        RollupPolicy(feeder_min_share=0)


def test_cancelling_every_report_withdraws_only_an_unconfirmed_prediction() -> None:
    net = generate(10, substations=1, feeders=(1, 1), transformers=(3, 3), customers=(6, 6))
    first, second = (net.transformers[next(iter(net.transformers))][i] for i in (0, 1))
    engine = InferenceEngine(net.topology)
    a, b = net.service_points[first][:2]
    engine.add_report(a, T0)
    engine.add_report(b, T0)
    assert engine.cancel_report(a, T0 + timedelta(minutes=5)) == []  # b still stands behind it
    assert engine.cancel_report(b, T0 + timedelta(minutes=6)) == [
        Withdraw(Device(XFMR, first), T0 + timedelta(minutes=6))
    ]
    assert engine.outages() == {}

    c, d = net.service_points[second][:2]
    engine.add_report(c, T0 + timedelta(minutes=7))
    engine.add_report(d, T0 + timedelta(minutes=7))
    engine.confirm(Device(XFMR, second), T0 + timedelta(minutes=8))
    assert engine.cancel_report(c, T0 + timedelta(minutes=9)) == []
    assert engine.cancel_report(d, T0 + timedelta(minutes=9)) == []
    assert engine.outages() == {Device(XFMR, second): OutageStatus.CONFIRMED}


def test_restore_closes_the_reports_it_held_and_a_new_outage_can_follow() -> None:
    net = generate(11, substations=1, feeders=(1, 1), transformers=(3, 3), customers=(6, 6))
    transformer = net.transformers[next(iter(net.transformers))][0]
    sps = net.service_points[transformer]
    engine = InferenceEngine(net.topology)
    engine.add_report(sps[0], T0)
    engine.add_report(sps[1], T0)
    assert sorted(engine.restore(Device(XFMR, transformer))) == sorted(sps[:2])
    assert engine.outages() == {} and engine.open_reports == 0
    # "Still out" after the restoration notice: fresh reports, a fresh prediction.
    engine.add_report(sps[0], T0 + timedelta(minutes=50))
    assert predicted(engine.add_report(sps[2], T0 + timedelta(minutes=51))) == [
        Device(XFMR, transformer)
    ]


def test_operations_can_merge_across_the_network() -> None:
    net = generate(12, substations=1, feeders=(2, 2), transformers=(3, 3), customers=(5, 5))
    feeder_a, feeder_b = net.transformers
    ta, tb = net.transformers[feeder_a][0], net.transformers[feeder_b][0]
    engine = InferenceEngine(net.topology)
    engine.confirm(Device(XFMR, ta), T0)
    engine.confirm(Device(XFMR, tb), T0)
    assert engine.merge(Device(XFMR, tb), Device(XFMR, ta), T0) == [
        Merge(Device(XFMR, tb), Device(XFMR, ta), 10, T0)
    ]
    sp = net.service_points[tb][0]
    engine.add_report(sp, T0)
    assert engine.outage_device_for(sp) == Device(XFMR, ta)
    assert sorted(engine.restore(Device(XFMR, ta))) == [sp]
    assert engine.covering(Device(XFMR, tb)) is None


# -- properties ----------------------------------------------------------------------------

report_step = st.tuples(st.just("report"), st.integers(0, 10_000), st.integers(0, 20))
tick_step = st.tuples(st.just("tick"), st.integers(0, 10_000), st.integers(0, 90))
confirm_step = st.tuples(st.just("confirm"), st.integers(0, 10_000), st.integers(0, 5))
cancel_step = st.tuples(st.just("cancel"), st.integers(0, 10_000), st.integers(0, 5))
restore_step = st.tuples(st.just("restore"), st.integers(0, 10_000), st.integers(0, 5))


def covered(engine: InferenceEngine, devices: list[Device]) -> set[Device]:
    return {d for d in devices if engine.covering(d) is not None}


def run_step(engine: InferenceEngine, net: Network, step: tuple[str, int, int], now: datetime,
             all_sps: list[int], devices: list[Device]) -> None:
    action, pick, _ = step
    if action == "report":
        engine.add_report(all_sps[pick % len(all_sps)], now)
    elif action == "tick":
        engine.tick(now)
    elif action == "confirm":
        engine.confirm(devices[pick % len(devices)], now)
    elif action == "cancel":
        engine.cancel_report(all_sps[pick % len(all_sps)], now)
    elif action == "restore":
        outages = sorted(engine.outages())
        if outages:
            engine.restore(outages[pick % len(outages)])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 50),
    steps=st.lists(st.one_of(report_step, tick_step, confirm_step), min_size=1, max_size=120),
)
def test_adding_reports_never_un_predicts_a_device(seed: int, steps: list) -> None:
    net = generate(seed, substations=2, feeders=(1, 3), transformers=(1, 5), customers=(1, 6))
    all_sps = [sp for sps in net.service_points.values() for sp in sps]
    devices = net.devices()
    engine = InferenceEngine(net.topology)
    now = T0
    before: set[Device] = set()
    for step in steps:
        now += timedelta(minutes=step[2])
        run_step(engine, net, step, now, all_sps, devices)
        after = covered(engine, devices)
        assert before <= after, f"{step} un-predicted {before - after}"
        before = after


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 50),
    steps=st.lists(
        st.one_of(report_step, tick_step, confirm_step, cancel_step, restore_step),
        min_size=1, max_size=120,
    ),
)
def test_incremental_counters_match_a_recount(seed: int, steps: list) -> None:
    """Whatever happens, the O(depth) counters equal a recount from the open reports."""
    net = generate(seed, substations=2, feeders=(1, 3), transformers=(1, 5), customers=(1, 6))
    all_sps = [sp for sps in net.service_points.values() for sp in sps]
    devices = net.devices()
    engine = InferenceEngine(net.topology)
    now = T0
    for step in steps:
        now += timedelta(minutes=step[2])
        run_step(engine, net, step, now, all_sps, devices)
        engine.tick(now)  # settle expiry so "recent" is exactly the window
        assert_counters_match(engine, now)


def assert_counters_match(engine: InferenceEngine, now: datetime) -> None:
    # White-box on purpose: this is the invariant that makes a report cost O(depth).
    window_start = now - engine.policy.window
    recent, held, free = Counter(), Counter(), Counter()
    for sp, at in engine._reports.items():
        if at < window_start:
            continue
        path = engine.topology.path(sp)
        assert path is not None
        level = next((max(i, 1) for i, d in enumerate(path) if d in engine._covers), None)
        assert engine._recent[sp] == level
        for i in (1, 2, 3):
            recent[path[i]] += 1
            if level is not None and i >= level:
                held[path[i]] += 1
    assert set(engine._recent) == {sp for sp, at in engine._reports.items() if at >= window_start}
    for device in set(recent) | {d for d, n in engine._recent_count.items() if n}:
        assert engine._recent_count[device] == recent[device], device
        assert engine._held[device] == held[device], device
        parent = engine.topology.parent(device)
        if parent is not None and recent[device] - held[device] > 0:
            free[parent] += 1
    for device, count in engine._free_children.items():
        assert count == free[device], device
    assert set(engine._entered) <= set(engine._covers)
    assert all(at >= window_start for at in engine._entered.values())
    for device, count in engine._fresh_out.items():
        out = sum(1 for d in engine._entered if engine.topology.parent(d) == device)
        assert count == out, device
