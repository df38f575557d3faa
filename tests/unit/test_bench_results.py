"""RESULTS.md and the charts, rendered from small fake result files: the peer ratios, the
targets' verdicts, the quick-run warning, one PNG per benchmark, and the medians of repeats."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.repeat import merge_runs
from bench.results import render, write_markdown

PRODUCTION = "production: PostgreSQL + Redis, 1 API + 2 workers"
EMBEDDED = "embedded: SQLite, workers in-process"


def _result(name: str, rows: list[dict[str, Any]], *, quick: bool = False) -> dict[str, Any]:
    return {"name": name, "title": f"{name} title", "ran_at": "2026-12-06 04:00 UTC",
            "quick": quick, "seconds": 1.0, "repeat": 1 if quick else 3,
            "command": "python -m bench" + (" --quick" if quick else ""),
            "machine": {"cpu": "Test CPU", "cores": "2", "ram": "4.0 GiB", "os": "Linux"},
            "versions": {"python": "3.11.7", "postgresql": "15.20", "redis server": "7.0.15",
                         "fastapi": "0.1", "rasa": "3.6.21"},
            "rows": rows, "notes": ["a note"]}


def _fakes(quick: bool) -> list[dict[str, Any]]:
    return [
        _result("sms", [
            {"setup": "bare FastAPI endpoint", "senders": 8, "msg/s": 1000.0, "p50 ms": 5.0,
             "p99 ms": 20.0},
            {"setup": PRODUCTION, "senders": 8, "msg/s": 50.0, "msg/s min–max": "40–60",
             "p50 ms": 100.0, "p99 ms": 400.0},
            {"setup": EMBEDDED, "senders": 8, "msg/s": 250.0, "p50 ms": 20.0, "p99 ms": 60.0},
        ], quick=quick),
        _result("bot", [
            {"measure": "bot reply latency, one turn at a time", "setup": "keyword commands",
             "senders": 1, "msg/s": "", "p50 ms": 1.5, "p99 ms": 9.0},
            {"measure": "SMS webhook, end to end", "setup": "Stormdesk, embedded NLU",
             "senders": 8, "msg/s": 30.0, "p50 ms": 120.0, "p99 ms": 900.0},
            {"measure": "Rasa REST channel (peer)", "setup": "Rasa 3.6 full model",
             "senders": 8, "msg/s": 60.0, "p50 ms": 80.0, "p99 ms": 450.0},
        ], quick=quick),
        _result("storm", [
            {"setup": "production: PostgreSQL + Redis", "case": "100,000 customers",
             "plan notices/s": 20000, "enqueue notices/s": 25000, "dispatch notices/s": 2500},
        ], quick=quick),
        _result("nlu", [{"setup": "in-process", "tier": "embedded", "p50 µs": 150.0,
                         "p99 µs": 900.0, "mean µs": 200.0}], quick=quick),
        _result("custom", [{"case": "only", "value": 3.0}], quick=quick),  # no chart spec
    ]


def _render(directory: Path) -> tuple[str, Path]:
    results = directory / "results"
    results.mkdir()
    for result in _fakes(quick=False):
        (results / f"{result['name']}.json").write_text(json.dumps(result))
    out = write_markdown(results, directory / "RESULTS.md", directory / "charts")
    return out.read_text(), directory / "charts"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """Rendered once for the module: matplotlib is the slow part."""
    return _render(tmp_path_factory.mktemp("bench"))


def _line(text: str, *needles: str) -> str:
    return next(line for line in text.splitlines()
                if line.startswith("|") and all(n in line for n in needles))


def test_peer_ratios_carry_both_absolute_numbers(rendered: tuple[str, Path]) -> None:
    text, _ = rendered
    assert text.index("## Peer ratios") < text.index("## Targets") < text.index("## sms title")
    production = _line(text, PRODUCTION, "| 8 |")
    assert "| 50 (40–60) | 1,000 | 0.050× |" in production  # msg/s: ours, FastAPI's, ratio
    assert "| 400 | 20 | 20× |" in production  # p99
    assert "| 250 | 1,000 | 0.25× |" in _line(text, EMBEDDED)
    bot = _line(text, "Stormdesk, embedded NLU")
    assert "| 30 | 60 | 0.50× | 120 | 80 | 1.50× | 900 | 450 | 2.00× |" in bot


def test_targets_say_met_or_the_gap(rendered: tuple[str, Path]) -> None:
    text, _ = rendered
    sms = _line(text, "#3", "production, 8 senders")
    assert "not met (20× short on msg/s; p99 4.0× over)" in sms
    assert "| met |" in _line(text, "#6", "2,500 notices/s")
    assert "| met |" in _line(text, "#4", "embedded classifier")
    assert "not measured in this run" in _line(text, "#7", "5,000 idle")
    assert "quick run" not in text.lower()


def test_header_names_machine_versions_and_command(rendered: tuple[str, Path]) -> None:
    text, _ = rendered
    assert "Test CPU, 2 cores, 4.0 GiB RAM, Linux" in text
    assert "Redis 7.0.15" in text and "Rasa (peer, its own venv) 3.6.21" in text
    assert "`python -m bench`" in text


def test_a_png_per_benchmark_linked_from_its_section(rendered: tuple[str, Path]) -> None:
    text, charts = rendered
    for name in ("sms", "bot", "storm", "nlu", "custom"):
        png = charts / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert f"![{name} chart](charts/{name}.png)" in text


def test_a_quick_run_says_it_is_indicative() -> None:
    text = render(_fakes(quick=True))  # tables only: the charts are covered above
    assert "**Quick run, indicative**" in text
    assert "(quick run: smaller sizes)" in _line(text, "#3", "production, 8 senders")


def test_repeats_fold_into_per_row_medians() -> None:
    runs = [
        [{"setup": "a", "senders": 8, "msg/s": 10.0, "share": "90%"},
         {"setup": "a", "senders": 64, "msg/s": 30.0, "share": "80%"}],
        [{"setup": "a", "senders": 8, "msg/s": 14.0, "share": "70%"},
         {"setup": "a", "senders": 64, "msg/s": 31.0, "share": "85%"}],
        [{"setup": "a", "senders": 8, "msg/s": 12.0, "share": "95%"}],  # lost its second row
    ]
    first, second = merge_runs(runs, "msg/s")
    assert first == {"setup": "a", "senders": 8, "msg/s": 12.0, "msg/s min–max": "10–14",
                     "share": "90%"}
    assert second["senders"] == 64 and second["msg/s"] == 30.5
    assert second["runs"] == "2 of 3"
