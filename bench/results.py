"""Raw results as JSON per benchmark; RESULTS.md is rendered from all of them, run or not."""

from __future__ import annotations

import json
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


def load_all() -> list[dict[str, Any]]:
    """Registered benchmarks first, in registry order; then any leftover result files."""
    found = {p.stem: json.loads(p.read_text()) for p in sorted(RESULTS_DIR.glob("*.json"))}
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


def render() -> str:
    parts = [
        "# Benchmark results",
        "",
        "Written by `python -m bench` from `bench/results/*.json`. Each section keeps the machine,",
        "date and versions of its own last run; `python -m bench NAME` re-runs one and keeps the",
        "others. How to read and add benchmarks: [README.md](README.md).",
    ]
    for result in load_all():
        machine, versions = result.get("machine", {}), result.get("versions", {})
        ran = (
            f"Ran {result.get('ran_at', '?')} in {result.get('seconds', 0):,.0f} s"
            f"{' (quick mode)' if result.get('quick') else ''} on {machine.get('cpu', '?')}, "
            f"{machine.get('cores', '?')} cores, {machine.get('ram', '?')} RAM "
            f"({machine.get('os', '?')}); Python {versions.get('python', '?')}, "
            f"SQLite {versions.get('sqlite', '?')}, PostgreSQL {versions.get('postgresql', '?')}."
        )
        parts += ["", f"## {result.get('title', result['name'])} (`{result['name']}`)", "", ran]
        if result.get("description"):
            parts += ["", result["description"]]
        if result.get("rows"):
            parts += ["", table(result["rows"])]
        if result.get("error"):
            parts += ["", f"**Failed:** `{result['error']}`"]
        if result.get("notes"):
            parts += [""] + [f"- {note}" for note in result["notes"]]
    return "\n".join(parts) + "\n"


def write_markdown() -> Path:
    RESULTS_MD.write_text(render())
    return RESULTS_MD
