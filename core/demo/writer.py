"""Writes generated rows: one transaction per chunk, parents first, by the fastest path per database.

PostgreSQL gets COPY (asyncpg `copy_records_to_table`), several times faster than executemany.
SQLite gets a driver-level executemany with values pre-converted to what SQLAlchemy would store,
skipping per-row bind processing. Profiling showed both paths dominated by that overhead.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Numeric, Table, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.db import UTCDateTime
from core.demo.rows import TABLE_ORDER, Batch, Ids, Row
from core.models import metadata

Convert = Callable[[Any], Any]


def _table(name: str) -> Table:
    return metadata.tables[name]


async def last_ids(engine: AsyncEngine) -> dict[str, int]:
    """The highest id in each table, so pre-assigned ids continue after existing rows."""
    async with engine.connect() as conn:
        return {
            name: (await conn.execute(select(func.coalesce(func.max(_table(name).c.id), 0))))
            .scalar_one()
            for name in TABLE_ORDER
        }


def _sqlite_datetime(value: datetime) -> str:
    # Same text SQLAlchemy's SQLite DateTime writes (naive UTC), so range queries compare right.
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _sqlite_date(value: date) -> str:
    return value.isoformat()


def _sqlite_converter(column_type: Any) -> Convert | None:
    if isinstance(column_type, UTCDateTime):
        return _sqlite_datetime
    if isinstance(column_type, Date):
        return _sqlite_date
    if isinstance(column_type, Boolean):
        return int
    if isinstance(column_type, Numeric):
        return float
    if isinstance(column_type, JSON):
        return json.dumps
    return None


def _postgres_converter(column_type: Any) -> Convert | None:
    return json.dumps if isinstance(column_type, JSON) else None  # asyncpg sends json as text


class _Layout:
    """A table's column order and the per-column conversions one database needs."""

    def __init__(
        self, table: Table, names: tuple[str, ...], converter: Callable[[Any], Convert | None]
    ) -> None:
        self.table = table
        self.columns = names
        self.getter = itemgetter(*names)
        self.conversions = [
            (i, conv) for i, name in enumerate(names) if (conv := converter(table.c[name].type))
        ]

    def records(self, rows: list[Row]) -> list[tuple[Any, ...]]:
        if not self.conversions:
            return [self.getter(row) for row in rows]
        out = []
        for row in rows:
            values = list(self.getter(row))
            for index, conv in self.conversions:
                if values[index] is not None:
                    values[index] = conv(values[index])
            out.append(tuple(values))
        return out


class RowWriter:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.converter = _postgres_converter if self.dialect == "postgresql" else _sqlite_converter
        self.layouts: dict[tuple[str, tuple[str, ...]], _Layout] = {}

    def layout(self, name: str, rows: list[Row]) -> _Layout:
        """Columns the generator filled (others keep their database defaults), in table order."""
        table = _table(name)
        names = tuple(c.name for c in table.columns if c.name in rows[0])
        key = (name, names)
        if key not in self.layouts:
            self.layouts[key] = _Layout(table, names, self.converter)
        return self.layouts[key]

    async def write(self, batch: Batch) -> None:
        if self.dialect == "postgresql":
            await self._copy(batch)
            return
        async with self.engine.begin() as conn:
            for name in TABLE_ORDER:
                rows = batch.rows.get(name)
                if not rows:
                    continue
                if self.dialect == "sqlite":
                    await self._executemany(conn, self.layout(name, rows), rows)
                else:
                    await conn.execute(insert(_table(name)), rows)

    async def _executemany(self, conn: AsyncConnection, layout: _Layout, rows: list[Row]) -> None:
        marks = ", ".join("?" for _ in layout.columns)
        sql = f"INSERT INTO {layout.table.name} ({', '.join(layout.columns)}) VALUES ({marks})"
        await conn.exec_driver_sql(sql, layout.records(rows))

    async def _copy(self, batch: Batch) -> None:
        async with self.engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None
            async with driver.transaction():
                # A seed can be re-run: don't wait for each chunk's WAL flush.
                await driver.execute("SET LOCAL synchronous_commit = off")
                for name in TABLE_ORDER:
                    rows = batch.rows.get(name)
                    if rows:
                        layout = self.layout(name, rows)
                        await driver.copy_records_to_table(
                            name, records=layout.records(rows), columns=layout.columns
                        )

    async def finish(self, ids: Ids) -> None:
        """PostgreSQL sequences did not see our explicit ids: move them past the last one.

        Then ANALYZE, so the planner knows the tables grew from nothing to millions of rows
        before the first query (autovacuum would get there, but only after a while).
        """
        if self.dialect != "postgresql":
            return
        async with self.engine.begin() as conn:
            for name in TABLE_ORDER:
                if ids.last(name):
                    await conn.execute(
                        text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), :last)"),
                        {"last": ids.last(name)},
                    )
        async with self.engine.connect() as conn:
            for name in TABLE_ORDER:
                await conn.execute(text(f"ANALYZE {name}"))
            await conn.commit()
