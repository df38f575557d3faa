"""Every benchmark, by the name `python -m bench NAME` takes. Adding one is one line here."""

from __future__ import annotations

BENCHMARKS: dict[str, str] = {
    "seed": "bench.bench_seed",
    "sms": "bench.bench_sms",
    "inference": "bench.bench_inference",
    "webchat": "bench.bench_webchat",
    "bot": "bench.bench_bot",
    "console": "bench.bench_console",
    "storm": "bench.bench_storm",
    "nlu": "bench.bench_nlu",
    "email": "bench.bench_email",
}
