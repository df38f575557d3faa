"""Small timing helpers shared by benchmarks."""

from __future__ import annotations

import statistics


def percentile(samples: list[float], share: float) -> float:
    """Nearest-rank percentile: share 0.5 is the median, 0.99 the p99."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))
    return ordered[rank]


def summary_ms(samples_s: list[float]) -> dict[str, float]:
    """p50 / p99 / mean in milliseconds, rounded for a results table."""
    ms = [s * 1000 for s in samples_s]
    return {
        "p50": round(percentile(ms, 0.50), 3),
        "p99": round(percentile(ms, 0.99), 3),
        "mean": round(statistics.fmean(ms), 3) if ms else float("nan"),
    }


def human(count: float) -> str:
    """1234567 → '1.23 M', 12345 → '12.3 k'."""
    for size, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(count) >= size:
            return f"{count / size:.3g} {unit}"
    return f"{count:.3g}"
