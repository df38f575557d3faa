"""`python -m chaos [FAULT ...]`: run the fault drills, print the tally, exit 1 on any loss."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from rich.console import Console
from rich.table import Table

from chaos.faults import FAULTS
from chaos.harness import Row


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos")
    parser.add_argument("faults", nargs="*", choices=[*FAULTS, []], metavar="FAULT",
                        help=f"one or more of {', '.join(FAULTS)} (default: all)")
    args = parser.parse_args()
    names = args.faults or list(FAULTS)
    console = Console()
    rows: list[Row] = []
    for name in names:
        with console.status(f"[bold]{name}[/]: starting the production setup and the fault…"):
            started = time.monotonic()
            try:
                row = asyncio.run(FAULTS[name]())
            except Exception as exc:  # noqa: BLE001 - a drill that breaks is a failed drill
                row = Row(name, lost=-1, seconds=time.monotonic() - started,
                          detail=f"drill failed: {type(exc).__name__}: {exc}")
        rows.append(row)
        verdict = "[green]ok[/]" if row.ok else "[red]FAILED[/]"
        console.print(f"{verdict} {row.fault} ({row.seconds:.0f} s): {row.detail}")
    table = Table(title="make chaos: production setup (PostgreSQL, Redis, API, two workers)")
    for column in ("fault", "messages in", "replies out", "notices sent", "lost", "doubled",
                   "seconds", "verdict"):
        table.add_column(column, justify="left" if column == "fault" else "right")
    for row in rows:
        table.add_row(row.fault, str(row.messages_in), str(row.replies_out),
                      str(row.notices_sent), str(row.lost), str(row.doubled),
                      f"{row.seconds:.0f}", "ok" if row.ok else "FAILED")
    console.print(table)
    return 0 if all(row.ok for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
