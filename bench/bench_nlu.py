"""Per-message NLU latency of the in-process tiers (keyword grammar, embedded classifier): the
bot runs them inline on every inbound message, so their p99 is part of the webhook budget."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from bot.nlu.embedded import EmbeddedNlu
from bot.nlu.keywords import match_keyword
from bot.nlu.training_data import HELDOUT_FILE, TRAINING_FILE, load_examples

if TYPE_CHECKING:
    from bench.context import BenchContext

HEADLINE = "p50 µs"
SETUPS = (
    "single setup: model inference in-process, the same in both deployments (no database, "
    "no network; the Rasa tier over HTTP is in the `bot` benchmark)."
)
TITLE = "NLU per-message latency"
DESCRIPTION = (
    "Wall time of one parse in the two in-process tiers, on one core: the SMS keyword grammar "
    "over a mix of commands, typos, carrier words and non-commands, and the embedded classifier "
    "(features, scores, entities) over the held-out set. Training time is the start-up cost."
)

KEYWORD_MESSAGES = (
    "OUT", "out cancel", "STAT", "stauts", "BAL", "balence", "PAY", "PAY $50", "REG 40098812 62704",
    "NICK Lake House", "AGENT", "agnet", "HELP", "STOP", "START", "YES", "OFF", "still out",
    "power is out since 3am", "why is my bill so high",  # not keywords: the miss path costs too
)


def _latencies_us(fn: Callable[[str], object], messages: Sequence[str], rounds: int) -> np.ndarray:
    samples = []
    for _ in range(rounds):
        for message in messages:
            started = time.perf_counter_ns()
            fn(message)
            samples.append((time.perf_counter_ns() - started) / 1000.0)
    return np.asarray(samples)


def _summary(samples: np.ndarray) -> dict[str, float]:
    return {
        "p50_us": round(float(np.percentile(samples, 50)), 1),
        "p99_us": round(float(np.percentile(samples, 99)), 1),
        "mean_us": round(float(samples.mean()), 1),
        "messages": int(samples.size),
    }


def measure(rounds: int = 20) -> dict[str, object]:
    """Train once, then time every tier on realistic messages; numbers in microseconds."""
    started = time.perf_counter()
    engine = EmbeddedNlu.train(TRAINING_FILE)
    train_seconds = time.perf_counter() - started
    heldout = [e.text for e in load_examples(HELDOUT_FILE)]
    _latencies_us(engine.classify, heldout, 1)  # warm caches before measuring
    return {
        "keywords": _summary(_latencies_us(match_keyword, KEYWORD_MESSAGES, rounds * 10)),
        "embedded": _summary(_latencies_us(engine.classify, heldout, rounds)),
        "embedded_train_seconds": round(train_seconds, 3),
        "embedded_features": engine.classifier.vectorizer.size,
    }


def run(ctx: BenchContext | None = None) -> list[dict[str, object]]:
    """The harness's table: one row per tier (bench/README.md)."""
    quick = bool(ctx and ctx.quick)
    numbers = measure(rounds=2 if quick else 20)
    if ctx is not None:
        ctx.note(f"embedded classifier trained in {numbers['embedded_train_seconds']} s "
                 f"({numbers['embedded_features']} features); the tests hold it to ≥ 0.85 "
                 "held-out accuracy")
    rows: list[dict[str, object]] = []
    for tier in ("keywords", "embedded"):
        summary = numbers[tier]
        assert isinstance(summary, dict)
        rows.append({"setup": "in-process", "tier": tier, "messages": summary["messages"],
                     "p50 µs": summary["p50_us"],
                     "p99 µs": summary["p99_us"], "mean µs": summary["mean_us"]})
    return rows


if __name__ == "__main__":
    import json

    print(json.dumps(measure(), indent=2))
