"""Writes generated rows: one transaction per chunk, executemany per table, parents first."""

from __future__ import annotations

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.demo.rows import TABLE_ORDER, Batch, Ids
from core.models import metadata


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


class RowWriter:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def write(self, batch: Batch) -> None:
        async with self.engine.begin() as conn:
            for name in TABLE_ORDER:
                rows = batch.rows.get(name)
                if rows:
                    await conn.execute(insert(_table(name)), rows)

    async def finish(self, ids: Ids) -> None:
        """PostgreSQL sequences did not see our explicit ids: move them past the last one."""
        if self.engine.dialect.name != "postgresql":
            return
        async with self.engine.begin() as conn:
            for name in TABLE_ORDER:
                if ids.last(name):
                    await conn.execute(
                        text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), :last)"),
                        {"last": ids.last(name)},
                    )
