"""`python -m bench [NAME ...] [--repeat N] [--quick]`: run benchmarks N times, save the per-row
medians as JSON, re-render RESULTS.md and the charts."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import os
import sys
import time
import traceback
from datetime import UTC, datetime
from typing import Any

from bench.context import DEFAULT_POSTGRES, BenchContext, machine, versions
from bench.registry import BENCHMARKS
from bench.repeat import merge_runs
from bench.results import save, write_markdown


async def run_one(name: str, *, quick: bool, postgres_url: str, repeat: int = 1,
                  command: str = "python -m bench") -> dict[str, Any]:
    """Run one benchmark `repeat` times; its rows are the per-cell medians of the runs that
    finished, its notes those of the last run (the numbers they quote are that run's)."""
    module = importlib.import_module(BENCHMARKS[name])
    result: dict[str, Any] = {
        "name": name,
        "title": getattr(module, "TITLE", name),
        "description": getattr(module, "DESCRIPTION", ""),
        "ran_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "quick": quick,
        "machine": machine(),
        "versions": await versions(postgres_url),
        "command": command,
        "repeat": repeat,
        "headline": getattr(module, "HEADLINE", None),
        "setups": getattr(module, "SETUPS", ""),
    }
    started = time.perf_counter()
    runs: list[list[dict[str, Any]]] = []
    notes: list[str] = []
    for attempt in range(1, repeat + 1):
        ctx = BenchContext(name=name, quick=quick, postgres_url=postgres_url)
        if repeat > 1:
            ctx.log(f"run {attempt} of {repeat}")
        try:
            rows = module.run(ctx)
            if inspect.isawaitable(rows):
                rows = await rows
            runs.append(list(rows))
        except Exception as exc:  # noqa: BLE001 - one failing benchmark must not lose the others
            traceback.print_exc()
            result["error"] = f"run {attempt} of {repeat}: {type(exc).__name__}: {exc}"
        notes = ctx.notes or notes
    if runs:
        result["rows"] = merge_runs(runs, result["headline"])
        result["runs"] = runs
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["notes"] = notes
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default all: "
                                                 f"{', '.join(BENCHMARKS)})")
    parser.add_argument("--quick", action="store_true",
                        help="small sizes and one run, for a smoke run")
    parser.add_argument("--repeat", type=int, default=None, metavar="N",
                        help="runs per benchmark, medians reported (default 3; 1 with --quick)")
    parser.add_argument("--list", action="store_true", help="list benchmarks and exit")
    parser.add_argument("--render", action="store_true",
                        help="only re-render RESULTS.md from the saved JSON")
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES_URL",
                                                             DEFAULT_POSTGRES),
                        help="a PostgreSQL server where scratch databases may be created")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(BENCHMARKS))
        return 0
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    repeat = args.repeat if args.repeat is not None else (1 if args.quick else 3)
    if repeat < 1:
        parser.error("--repeat must be at least 1")
    command = " ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])])
    failed = False
    if not args.render:
        for name in args.names or list(BENCHMARKS):
            result = asyncio.run(run_one(name, quick=args.quick, postgres_url=args.postgres,
                                         repeat=repeat, command=command))
            failed |= "error" in result
            print(f"{name}: {save(result)}", file=sys.stderr)
    print(f"wrote {write_markdown()}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
