"""Row buffers and pre-assigned ids: the generator writes plain rows, never ORM objects, for speed."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

# Parents before children, so one pass of inserts satisfies every foreign key.
TABLE_ORDER: tuple[str, ...] = (
    "substations",
    "feeders",
    "transformers",
    "customers",
    "accounts",
    "contacts",
    "opt_outs",
    "premises",
    "service_points",
    "services",
    "bills",
    "bill_lines",
    "ledger_entries",
    "arrangements",
    "installments",
    "deposits",
    "service_orders",
)

Row = dict[str, Any]


class Ids:
    """Contiguous id ranges handed out in Python, so children can point at parents before insert."""

    def __init__(self, start_after: dict[str, int]) -> None:
        self._last = {table: start_after.get(table, 0) for table in TABLE_ORDER}

    def next(self, table: str) -> int:
        self._last[table] += 1
        return self._last[table]

    def last(self, table: str) -> int:
        return self._last[table]


class Batch:
    """The rows of one chunk, by table; flushed and cleared after each chunk."""

    def __init__(self) -> None:
        self.rows: dict[str, list[Row]] = defaultdict(list)

    def add(self, table: str, row: Row) -> None:
        self.rows[table].append(row)

    def counts(self) -> dict[str, int]:
        return {table: len(rows) for table, rows in self.rows.items()}

    def clear(self) -> None:
        self.rows.clear()
