"""The embedded default's one SQLite writer: writers in the process take turns in the order
they asked (db.SqliteWriterQueue), instead of polling SQLite's lock with growing sleeps, in
which a text waited up to 2.7 s behind writers that came later."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.customers.models import Customer
from core.db import make_sessionmaker, unit_of_work

# conftest's `engine`, on SQLite only: the queue is SQLite's.
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


async def test_writers_take_turns_in_the_order_they_asked(engine: AsyncEngine) -> None:
    sessions = make_sessionmaker(engine)
    release = asyncio.Event()
    order: list[int] = []

    async def first() -> None:
        async with unit_of_work(sessions) as session:
            session.add(Customer(first_name="W0", last_name="Writer"))
            await session.flush()  # holds the write turn until `release`
            order.append(0)
            await release.wait()

    async def writer(n: int) -> None:
        async with unit_of_work(sessions) as session:
            session.add(Customer(first_name=f"W{n}", last_name="Writer"))
            await session.flush()
            order.append(n)

    holding = asyncio.create_task(first())
    while not order:
        await asyncio.sleep(0.01)
    waiting = []
    for n in range(1, 9):
        waiting.append(asyncio.create_task(writer(n)))
        await asyncio.sleep(0.02)  # each asks after the one before
    release.set()
    async with asyncio.timeout(20):
        await asyncio.gather(holding, *waiting)
    assert order == list(range(9))
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Customer).where(
            Customer.last_name == "Writer")) == 9


async def test_readers_do_not_wait_for_the_writer(engine: AsyncEngine) -> None:
    sessions = make_sessionmaker(engine)
    async with unit_of_work(sessions) as writing:
        writing.add(Customer(first_name="Held", last_name="Open"))
        await writing.flush()
        async with asyncio.timeout(2):
            async with sessions() as reading:
                assert await reading.scalar(text("SELECT count(*) FROM customers")) is not None


async def test_a_rolled_back_writer_gives_its_turn_back(engine: AsyncEngine) -> None:
    sessions = make_sessionmaker(engine)
    with pytest.raises(RuntimeError):
        async with unit_of_work(sessions) as session:
            session.add(Customer(first_name="Gone", last_name="Rolled"))
            await session.flush()
            raise RuntimeError("the turn fails")
    # A session closed mid-transaction, without commit or rollback, gives it back too.
    async with sessions() as session:
        session.add(Customer(first_name="Dropped", last_name="Rolled"))
        await session.flush()
    async with asyncio.timeout(5):
        async with unit_of_work(sessions) as session:
            session.add(Customer(first_name="Next", last_name="Rolled"))
    async with sessions() as session:
        names = set(await session.scalars(select(Customer.first_name).where(
            Customer.last_name == "Rolled")))
    assert names == {"Next"}
