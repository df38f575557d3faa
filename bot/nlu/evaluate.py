"""How good is an NLU engine on a labelled file: accuracy, macro F1, calibration, confusions.
Backs `stormdesk nlu eval --file F` and the accuracy assertion in the unit tests."""

from __future__ import annotations

import asyncio
import io
import itertools
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from bot.nlu.base import NluEngine
from bot.nlu.training_data import Example, load_examples

CALIBRATION_BINS = 10


@dataclass(frozen=True, slots=True)
class IntentScores:
    intent: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True, slots=True)
class Miss:
    text: str
    expected: str
    predicted: str
    confidence: float


@dataclass(frozen=True)
class EvalReport:
    """Everything one evaluation found; `confusion[(expected, predicted)]` counts every pair."""

    engine: str
    examples: int
    accuracy: float
    macro_f1: float
    expected_calibration_error: float
    latency_p50_ms: float
    latency_p99_ms: float
    per_intent: tuple[IntentScores, ...]
    confusion: dict[tuple[str, str], int] = field(default_factory=dict)
    misses: tuple[Miss, ...] = ()
    engines_used: dict[str, int] = field(default_factory=dict)


async def evaluate(engine: NluEngine, examples: Sequence[Example]) -> EvalReport:
    """Parse every example with `engine` and score the intents against the labels."""
    if not examples:
        raise ValueError("nothing to evaluate: no examples")
    predicted: list[str] = []
    confidences: list[float] = []
    latencies: list[float] = []
    used: Counter[str] = Counter()
    for example in examples:
        started = time.perf_counter()
        result = await engine.parse(example.text)
        latencies.append((time.perf_counter() - started) * 1000.0)
        predicted.append(result.intent)
        confidences.append(result.confidence)
        used[result.engine] += 1
    expected = [e.intent for e in examples]
    hits = np.array([p == t for p, t in zip(predicted, expected, strict=True)])
    per_intent = _per_intent(expected, predicted)
    return EvalReport(
        engine=getattr(engine, "name", type(engine).__name__),
        examples=len(examples),
        accuracy=float(hits.mean()),
        macro_f1=float(np.mean([s.f1 for s in per_intent if s.support])),
        expected_calibration_error=_ece(np.array(confidences), hits),
        latency_p50_ms=float(np.percentile(latencies, 50)),
        latency_p99_ms=float(np.percentile(latencies, 99)),
        per_intent=per_intent,
        confusion=dict(Counter(zip(expected, predicted, strict=True))),
        misses=tuple(Miss(e.text, e.intent, p, c)
                     for e, p, c in zip(examples, predicted, confidences, strict=True)
                     if p != e.intent),
        engines_used=dict(used),
    )


def _per_intent(expected: list[str], predicted: list[str]) -> tuple[IntentScores, ...]:
    scores = []
    for intent in sorted(set(expected)):
        tp = sum(e == p == intent for e, p in zip(expected, predicted, strict=True))
        n_pred = predicted.count(intent)
        n_true = expected.count(intent)
        precision = tp / n_pred if n_pred else 0.0
        recall = tp / n_true if n_true else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores.append(IntentScores(intent, precision, recall, f1, n_true))
    return tuple(scores)


def _ece(confidences: np.ndarray, hits: np.ndarray) -> float:
    """Expected calibration error: how far stated confidence is from observed accuracy."""
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    total = 0.0
    for lo, hi in itertools.pairwise(edges):
        in_bin = (confidences > lo) & (confidences <= hi)
        if in_bin.any():
            total += in_bin.mean() * abs(confidences[in_bin].mean() - hits[in_bin].mean())
    return float(total)


def render(reports: Sequence[EvalReport], *, width: int = 110, max_misses: int = 25) -> str:
    """Side-by-side tables (summary, per-intent F1, confusions, misses) as plain text."""
    console = Console(file=io.StringIO(), record=True, width=width, color_system=None)
    summary = Table(title="NLU evaluation")
    for column in ("engine", "examples", "accuracy", "macro F1", "ECE", "p50 ms", "p99 ms"):
        summary.add_column(column, justify="left" if column == "engine" else "right")
    for r in reports:
        summary.add_row(r.engine, str(r.examples), f"{r.accuracy:.3f}", f"{r.macro_f1:.3f}",
                        f"{r.expected_calibration_error:.3f}", f"{r.latency_p50_ms:.2f}",
                        f"{r.latency_p99_ms:.2f}")
    console.print(summary)

    per_intent = Table(title="F1 per intent")
    per_intent.add_column("intent")
    per_intent.add_column("support", justify="right")
    for r in reports:
        per_intent.add_column(f"{r.engine} F1", justify="right")
    by_engine = [{s.intent: s for s in r.per_intent} for r in reports]
    for scores in reports[0].per_intent:
        per_intent.add_row(scores.intent, str(scores.support),
                           *(f"{m[scores.intent].f1:.2f}" for m in by_engine))
    console.print(per_intent)

    for r in reports:
        confusions = Table(title=f"{r.engine}: confusions (expected → predicted)")
        for column in ("expected", "predicted", "count"):
            confusions.add_column(column, justify="right" if column == "count" else "left")
        pairs = sorted(((pair, n) for pair, n in r.confusion.items() if pair[0] != pair[1]),
                       key=lambda item: (-item[1], item[0]))
        for (expected, predicted), n in pairs:
            confusions.add_row(expected, predicted, str(n))
        console.print(confusions)
        misses = Table(title=f"{r.engine}: misses (first {max_misses})")
        for column in ("text", "expected", "predicted", "conf"):
            misses.add_column(column)
        for miss in r.misses[:max_misses]:
            misses.add_row(miss.text, miss.expected, miss.predicted, f"{miss.confidence:.2f}")
        console.print(misses)
    return console.export_text()


async def run_eval_async(file: Path, rasa_url: str | None = None) -> tuple[list[EvalReport], str]:
    """Evaluate the embedded engine on `file` and, with a Rasa URL, Rasa beside it."""
    from bot.nlu.embedded import default_engine_async
    from bot.nlu.rasa_client import RasaNlu

    examples = load_examples(file)
    embedded = await default_engine_async()
    reports = [await evaluate(embedded, examples)]
    if rasa_url:
        rasa = RasaNlu(rasa_url, fallback=embedded)
        try:
            reports.append(await evaluate(rasa, examples))
        finally:
            await rasa.aclose()
    return reports, render(reports)


def run_eval(file: Path, rasa_url: str | None = None) -> str:
    """The text `stormdesk nlu eval --file F [--rasa-url U]` prints. If Rasa could not answer
    some examples, its row says how many the embedded fallback answered instead."""
    reports, text = asyncio.run(run_eval_async(Path(file), rasa_url))
    notes = [f"{r.engine}: {n} of {r.examples} answered by the {engine} fallback"
             for r in reports for engine, n in r.engines_used.items() if engine != r.engine]
    return text + ("\n".join(notes) + "\n" if notes else "")
