"""Fold N runs of one benchmark into one table: the median of every measured cell, row by row.

Rows are matched by their labels (the text cells that are not numbers, e.g. `setup`, `case`)
and by their order among rows with the same labels (8 senders before 64), so a run that lost
a row still lines up. Numbers take the median; formatted numbers ("105 k", "98%", "0.59×")
take the run whose value is the median, so their unit and rounding stay as the benchmark wrote
them. The headline column also gets its min–max across runs.
"""

from __future__ import annotations

import re
import statistics
from typing import Any

_NUMBER = re.compile(r"^\s*(-?[\d,]*\.?\d+)\s*([kMG]?)\s*(\S*)\s*$")
_SCALE = {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9}


def as_number(value: Any) -> float | None:
    """12.5, '1,362 MB', '105 k', '98%', '0.59×' → a float; labels and blanks → None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        found = _NUMBER.match(value)
        if found:
            return float(found.group(1).replace(",", "")) * _SCALE[found.group(2)]
    return None


def _is_label(value: Any) -> bool:
    return isinstance(value, str) and value not in ("", "-") and as_number(value) is None


def row_keys(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Each row's labels plus its rank among rows with the same labels."""
    seen: dict[tuple[Any, ...], int] = {}
    keys = []
    for row in rows:
        labels = tuple((column, value) for column, value in row.items() if _is_label(value))
        keys.append((labels, seen.get(labels, 0)))
        seen[labels] = seen.get(labels, 0) + 1
    return keys


def _median_cell(values: list[Any]) -> Any:
    numbers = [(as_number(v), v) for v in values]
    measured = [(n, v) for n, v in numbers if n is not None]
    if not measured:
        return values[0]
    if all(isinstance(v, int | float) and not isinstance(v, bool) for _, v in measured):
        middle = statistics.median(n for n, _ in measured)
        if all(isinstance(v, int) for _, v in measured):
            return round(middle)
        digits = max(_decimals(v) for _, v in measured)
        return round(middle, digits)
    ordered = sorted(measured, key=lambda pair: pair[0])
    return ordered[(len(ordered) - 1) // 2][1]


def _decimals(value: float) -> int:
    text = repr(float(value))
    return len(text.split(".")[1]) if "." in text and "e" not in text else 3


def _spread(values: list[Any]) -> str:
    numbers = [n for n in (as_number(v) for v in values) if n is not None]
    if len(numbers) < 2:
        return ""
    low, high = min(numbers), max(numbers)
    return f"{_short(low)}–{_short(high)}"


def _short(number: float) -> str:
    if abs(number) >= 100:
        return f"{number:,.0f}"
    return f"{number:.3g}"


def merge_runs(runs: list[list[dict[str, Any]]],
               headline: str | tuple[str, ...] | list[str] | None = None
               ) -> list[dict[str, Any]]:
    """Per-row, per-column medians over `runs` (each a benchmark's rows); with more than one
    run, each row gains `<headline> min–max` for the first of the `headline` columns it has
    numbers in."""
    headlines = (headline,) if isinstance(headline, str) else tuple(headline or ())
    if not runs:
        return []
    if len(runs) == 1:
        return [dict(row) for row in runs[0]]
    order: list[tuple[Any, ...]] = []
    cells: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for rows in runs:
        for key, row in zip(row_keys(rows), rows, strict=True):
            if key not in cells:
                order.append(key)
                cells[key] = []
            cells[key].append(row)
    merged = []
    for key in order:
        same = cells[key]
        columns: list[str] = []
        for row in same:
            columns += [c for c in row if c not in columns]
        out: dict[str, Any] = {}
        spread_done = False
        for column in columns:
            values = [row[column] for row in same if column in row]
            out[column] = _median_cell(values)
            if column in headlines and not spread_done:
                spread = _spread(values)
                if spread:
                    out[f"{column} min–max"] = spread
                    spread_done = True
        if len(same) < len(runs):
            out["runs"] = f"{len(same)} of {len(runs)}"
        merged.append(out)
    return merged
