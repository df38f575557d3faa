"""Raw results as JSON per benchmark; RESULTS.md is rendered from all of them, run or not."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from bench.registry import BENCHMARKS

HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / "results"
RESULTS_MD = HERE / "RESULTS.md"


def save(result: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{result['name']}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str) + "\n")
    return path


def load_all(results_dir: Path = RESULTS_DIR) -> list[dict[str, Any]]:
    """Registered benchmarks first, in registry order; then any leftover result files."""
    found = {p.stem: json.loads(p.read_text()) for p in sorted(results_dir.glob("*.json"))}
    ordered = [found.pop(name) for name in BENCHMARKS if name in found]
    return ordered + list(found.values())


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value).replace("|", "\\|")


def table(rows: list[dict[str, Any]]) -> str:
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(c, "")) for c in columns) + " |")
    return "\n".join(lines)


def _header(results: list[dict[str, Any]]) -> list[str]:
    """Machine, date, versions and command of the newest run; a warning for quick runs."""
    newest = max(results, key=lambda r: r.get("ran_at", ""))
    machine, versions = newest.get("machine", {}), newest.get("versions", {})
    commands = sorted({r.get("command", "python -m bench") for r in results})
    repeats = sorted({int(r.get("repeat", 1)) for r in results})
    lines = [
        (f"- **Machine:** {machine.get('cpu', '?')}, {machine.get('cores', '?')} cores, "
        f"{machine.get('ram', '?')} RAM, {machine.get('os', '?')}"),
        (f"- **Date:** {min(r.get('ran_at', '?') for r in results)} to "
        f"{newest.get('ran_at', '?')}"),
        "- **Versions:** " + ", ".join(
            f"{name} {versions[key]}" for key, name in _VERSIONS if key in versions),
        "- **Command:** " + ", ".join(f"`{c}`" for c in commands)
        + f" ({' / '.join(map(str, repeats))} run(s) per benchmark; every cell is the median "
        "of its runs, the headline column also shows their min–max)",
    ]
    if any(r.get("quick") for r in results):
        lines.insert(0, "> **Quick run, indicative**: small sizes and one run per benchmark, "
                        "a smoke test of the harness; run `make bench` on a quiet machine for "
                        "the figures to quote.")
        lines.insert(1, "")
    return lines


_VERSIONS = (("python", "Python"), ("postgresql", "PostgreSQL"), ("redis server", "Redis"),
             ("sqlite", "SQLite"), ("fastapi", "fastapi"), ("uvicorn", "uvicorn"),
             ("sqlalchemy", "SQLAlchemy"), ("asyncpg", "asyncpg"), ("redis", "redis-py"),
             ("twilio", "twilio"), ("rasa", "Rasa (peer, its own venv)"))


def render(results: list[dict[str, Any]] | None = None,
           charts: dict[str, str] | None = None) -> str:
    """RESULTS.md: header, peer ratios, targets, then one section per benchmark. `charts` maps
    a benchmark name to its PNG's path relative to RESULTS.md."""
    from bench.headline import peer_tables, targets_table

    results = load_all() if results is None else results
    charts = charts or {}
    parts = [
        "# Benchmark results",
        "",
        "Written by `python -m bench` (`make bench`) from `bench/results/*.json`; charts in",
        "`bench/charts/`. How to read and add benchmarks: [README.md](README.md).",
        "",
    ]
    if results:
        parts += _header(results)
        parts += ["", *peer_tables(results), "", *targets_table(results)]
    for result in results:
        machine, versions = result.get("machine", {}), result.get("versions", {})
        runs = int(result.get("repeat", 1))
        ran = (
            f"Ran {result.get('ran_at', '?')} in {result.get('seconds', 0):,.0f} s"
            f"{' (quick mode)' if result.get('quick') else ''}"
            f"{f', median of {runs} runs' if runs > 1 else ', one run'} on "
            f"{machine.get('cpu', '?')}, "
            f"{machine.get('cores', '?')} cores, {machine.get('ram', '?')} RAM "
            f"({machine.get('os', '?')}); Python {versions.get('python', '?')}, "
            f"SQLite {versions.get('sqlite', '?')}, PostgreSQL {versions.get('postgresql', '?')}."
        )
        parts += ["", f"## {result.get('title', result['name'])} (`{result['name']}`)", "", ran]
        if result.get("setups"):
            parts += ["", f"Setups: {result['setups']}"]
        if result.get("description"):
            parts += ["", result["description"]]
        if result["name"] in charts:
            parts += ["", f"![{result['name']} chart]({charts[result['name']]})"]
        if result.get("rows"):
            parts += ["", table(result["rows"])]
        if result.get("error"):
            parts += ["", f"**Failed:** `{result['error']}`"]
        if result.get("notes"):
            parts += [""] + [f"- {note}" for note in result["notes"]]
    return "\n".join(parts) + "\n"


def write_markdown(results_dir: Path = RESULTS_DIR, out: Path = RESULTS_MD,
                   charts_dir: Path | None = None) -> Path:
    """Render the charts (bench/charts/<name>.png) and RESULTS.md from the saved results."""
    from bench.charts import render_chart

    charts_dir = charts_dir or out.parent / "charts"
    results = load_all(results_dir)
    charts: dict[str, str] = {}
    for result in results:
        try:
            path = render_chart(result, charts_dir)
        except Exception as exc:  # noqa: BLE001 - a chart bug must not lose the tables
            print(f"chart for {result['name']} failed: {type(exc).__name__}: {exc}")
            continue
        if path is not None:
            charts[result["name"]] = Path(os.path.relpath(path, out.parent)).as_posix()
    out.write_text(render(results, charts))
    return out
