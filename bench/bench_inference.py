"""Per-report cost of the outage roll-up on a 100k-service-point network during a storm: it runs
inline on every "OUT", so it must stay O(depth) and flat as the network grows."""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core.outages.enums import DeviceKind
from core.outages.inference import InferenceEngine, Predict, Topology

T0 = datetime(2026, 8, 29, 14, 0, tzinfo=UTC)


def network_rows(
    service_points: int, *, substations: int = 20, feeders_per: int = 5, seed: int = 7
) -> list[tuple[int | None, int | None, int | None, int]]:
    """A utility-shaped network: ~1,000 customers a feeder, 1 to 19 customers a transformer."""
    rng = random.Random(seed)
    feeders = substations * feeders_per
    per_feeder = service_points // feeders
    rows: list[tuple[int | None, int | None, int | None, int]] = []
    sp = transformer = 0
    for feeder in range(feeders):
        substation = feeder // feeders_per
        left = per_feeder
        while left > 0:
            transformer += 1
            size = min(left, rng.randint(1, 19))
            for _ in range(size):
                sp += 1
                rows.append((sp, transformer, feeder, substation))
            left -= size
    return rows


@dataclass
class Storm:
    reports: list[tuple[int, datetime]]
    failed_feeders: set[int]
    failed_transformers: set[int]


def storm_reports(
    rows: list[tuple[int | None, int | None, int | None, int]], *, seed: int = 11
) -> Storm:
    """A six-hour storm: a tenth of the feeders and a twentieth of the transformers fail at
    random moments; a third of their customers call in the minutes after (mean 15 min), and
    1% of everyone calls at some point anyway (noise, last gasps of blinks)."""
    rng = random.Random(seed)
    storm = timedelta(hours=6).total_seconds()
    feeders = sorted({r[2] for r in rows if r[2] is not None})
    transformers = sorted({r[1] for r in rows if r[1] is not None})
    failed = {f: rng.random() * storm for f in rng.sample(feeders, len(feeders) // 10)}
    failed_transformers = {
        t: rng.random() * storm for t in rng.sample(transformers, len(transformers) // 20)
    }
    reports: list[tuple[int, datetime]] = []
    for sp, transformer, feeder, _ in rows:
        assert sp is not None
        failed_at = failed.get(feeder, failed_transformers.get(transformer))
        if failed_at is not None and rng.random() < 0.33:
            delay = rng.expovariate(1 / 900)
            reports.append((sp, T0 + timedelta(seconds=failed_at + delay)))
        elif rng.random() < 0.01:
            reports.append((sp, T0 + timedelta(seconds=rng.random() * storm)))
    reports.sort(key=lambda r: r[1])
    return Storm(reports, set(failed), set(failed_transformers))


def _percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _replay(topology: Topology, storm: Storm) -> dict[str, object]:
    reports = storm.reports
    engine = InferenceEngine(topology)
    samples: list[float] = []
    deciding: list[float] = []  # reports that tipped a prediction (they do the merging)
    predictions = 0
    next_tick = T0
    started = time.perf_counter()
    for sp, at in reports:
        if at >= next_tick:  # the worker ticks once a minute
            engine.tick(at)
            next_tick = at + timedelta(minutes=1)
        begin = time.perf_counter_ns()
        decisions = engine.add_report(sp, at)
        elapsed = (time.perf_counter_ns() - begin) / 1000.0
        samples.append(elapsed)
        if decisions:
            deciding.append(elapsed)
        predictions += sum(1 for d in decisions if isinstance(d, Predict))
    wall = time.perf_counter() - started
    kinds: dict[str, int] = {}
    for device in engine.outages():
        kinds[device.kind.value] = kinds.get(device.kind.value, 0) + 1
    feeders = {d.id for d in engine.outages() if d.kind is DeviceKind.FEEDER}
    transformers = {d.id for d in engine.outages() if d.kind is DeviceKind.TRANSFORMER}
    cancel_samples: list[float] = []
    for sp, at in reports[:: max(1, len(reports) // 2000)]:
        begin = time.perf_counter_ns()
        engine.cancel_report(sp, at + timedelta(hours=7))
        cancel_samples.append((time.perf_counter_ns() - begin) / 1000.0)
    return {
        "reports": len(reports),
        "p50_us": round(_percentile(samples, 0.50), 2),
        "p99_us": round(_percentile(samples, 0.99), 2),
        "max_us": round(max(samples), 1),
        "mean_us": round(statistics.fmean(samples), 2),
        "reports_per_s": round(len(reports) / wall),
        "deciding_p50_us": round(_percentile(deciding, 0.50), 2) if deciding else None,
        "predictions": predictions,
        "outages_by_kind": kinds,
        # Quality against the storm's ground truth (a feeder outage also explains the
        # transformers below it, so those are not counted as misses).
        "failed_feeders": len(storm.failed_feeders),
        "feeders_found": len(feeders & storm.failed_feeders),
        "feeders_predicted_not_failed": len(feeders - storm.failed_feeders),
        "transformers_predicted_really_failed": len(transformers & storm.failed_transformers),
        "transformers_predicted": len(transformers),
        "cancel_p50_us": round(_percentile(cancel_samples, 0.50), 2),
        "cancel_p99_us": round(_percentile(cancel_samples, 0.99), 2),
    }


HEADLINE = "report p50 µs"
SETUPS = (
    "single setup: the roll-up engine runs in memory, the same in both deployments (no "
    "database on its path)."
)
TITLE = "Outage roll-up inference: cost per report"


def run(ctx: object | None = None) -> list[dict[str, object]]:
    """The harness's table (bench/README.md): one row per network size."""
    quick = bool(getattr(ctx, "quick", False))
    numbers = measure(10_000 if quick else 100_000)
    storm = numbers["storm"]
    assert isinstance(storm, dict)
    if ctx is not None and hasattr(ctx, "note"):
        ctx.note("A storm replayed through the in-memory engine (no database): each report "
                 "updates counters along its path (service point → transformer → feeder → "
                 "substation), so the cost should not grow with the network "
                 f"(100k vs 10k cost ratio {numbers['cost_ratio_100k_vs_10k']}).")
        ctx.note(f"Prediction quality: {storm['feeders_found']}/{storm['failed_feeders']} failed "
                 f"feeders found, {storm['feeders_predicted_not_failed']} predicted that had not "
                 f"failed; {storm['transformers_predicted_really_failed']}/"
                 f"{storm['transformers_predicted']} predicted transformers really failed.")
    return [{
        "setup": "in-process, no database",
        "service points": numbers["service_points"],
        "topology build s": numbers["topology_build_s"], "reports": storm["reports"],
        "report p50 µs": storm["p50_us"], "report p99 µs": storm["p99_us"],
        "report mean µs": storm["mean_us"], "deciding p50 µs": storm["deciding_p50_us"],
        "cancel p50 µs": storm["cancel_p50_us"], "reports/s": storm["reports_per_s"],
    }]


def measure(service_points: int = 100_000) -> dict[str, object]:
    """Build the network, replay a storm through the engine; times in microseconds."""
    rows = network_rows(service_points)
    started = time.perf_counter()
    topology = Topology.from_rows(rows)
    build_s = time.perf_counter() - started
    storm = _replay(topology, storm_reports(rows))
    # The same storm shape on a network ten times smaller: O(depth) means the cost stays flat.
    small_rows = network_rows(service_points // 10, substations=2)
    small = _replay(Topology.from_rows(small_rows), storm_reports(small_rows))
    return {
        "service_points": topology.service_points,
        "topology_build_s": round(build_s, 3),
        "storm": storm,
        "small_network_mean_us": small["mean_us"],
        "cost_ratio_100k_vs_10k": round(float(storm["mean_us"]) / float(small["mean_us"]), 2),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(measure(), indent=2))
