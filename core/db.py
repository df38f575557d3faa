"""Engine, sessions and column types shared by every domain's models.py."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, DateTime, Executable, Integer, MetaData, Row, event, text
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator
from sqlalchemy.util.concurrency import await_only, in_greenlet

from core.errors import Unavailable

# Stable constraint names so Alembic migrations are identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in Python; SQLite has no time zones, so it stores naive UTC and we re-attach it."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: store timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        SqliteWriterQueue().attach(engine)
        return engine
    kwargs.setdefault("pool_size", 20)
    kwargs.setdefault("max_overflow", 10)
    # No pre-ping: it is a round trip and ~8% of the SMS webhook's CPU on every checkout. A
    # connection that died with its server fails its statement instead; SQLAlchemy then
    # invalidates the whole pool, the request answers 503 (Twilio retries, a queue entry is
    # retried) and the next checkout connects afresh. Recycle idles that a proxy may cut.
    kwargs.setdefault("pool_pre_ping", False)
    kwargs.setdefault("pool_recycle", 1800)
    return create_async_engine(url, **kwargs)


SQLITE_WRITE_WAIT_S = 30.0  # as long as busy_timeout: the same give-up, in the same place


class SqliteWriterQueue:
    """SQLite has one writer at a time, and a connection that finds the write lock taken
    polls for it (its busy handler sleeps 1, 2, 5 ... then 100 ms at a time): it may sleep
    on while the lock is free, and lose it again to a newcomer. Under load, texts on the
    embedded default waited 100-2,700 ms in those sleeps (p99 535 ms at 8 senders, p50 10).

    So writers in this process queue on an asyncio lock (first come, first served) taken
    just before a connection's first write statement and given back when its transaction
    ends; SQLite's own lock is then free whenever they get this one. Reads never take it
    (WAL lets them run beside the writer), and other processes (a CLI) still meet
    busy_timeout. One per engine, used from the event loop that serves it."""

    def __init__(self, wait_s: float = SQLITE_WRITE_WAIT_S) -> None:
        self._lock = asyncio.Lock()
        self._wait_s = wait_s

    def attach(self, engine: AsyncEngine) -> None:
        sync = engine.sync_engine
        event.listen(sync, "before_cursor_execute", self._before_statement)
        # The turn is given back once the COMMIT or ROLLBACK has returned (SQLAlchemy's
        # commit and rollback events come before it: the next writer would find SQLite's
        # lock still held, and poll). Every end goes through these two, the pool's rollback
        # of a connection handed back mid-transaction included; the dialect is this
        # engine's own. A connection closed or lost ends its transaction with it.
        dialect = sync.dialect
        dialect.do_commit = self._giving_back(dialect.do_commit)  # type: ignore[method-assign]
        dialect.do_rollback = self._giving_back(  # type: ignore[method-assign]
            dialect.do_rollback)
        event.listen(sync.pool, "close", self._connection_lost)
        event.listen(sync.pool, "invalidate", self._connection_lost)

    def _giving_back(self, end: Callable[[Any], None]) -> Callable[[Any], None]:
        def ended(dbapi_connection: Any) -> None:
            try:
                end(dbapi_connection)
            finally:
                try:
                    info = dbapi_connection.info
                except (AttributeError, NotImplementedError):  # the dialect's first-connect
                    info = None  # probe: an ad hoc connection that never wrote
                if info is not None:
                    self._give_back(info)
        return ended

    def _before_statement(self, conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if conn.info.get(_HOLDS_WRITER) or not _writes(statement) or not in_greenlet():
            return
        try:
            await_only(asyncio.wait_for(self._lock.acquire(), timeout=self._wait_s))
        except TimeoutError:
            raise sqlite3.OperationalError(
                f"database is locked: no write turn in {self._wait_s:.0f} s") from None
        conn.info[_HOLDS_WRITER] = True

    def _connection_lost(self, _dbapi: Any, record: Any, *_exception: Any) -> None:
        if record is not None:
            self._give_back(record.info)

    def _give_back(self, info: dict[str, Any]) -> None:
        if info.pop(_HOLDS_WRITER, False):
            self._lock.release()


_HOLDS_WRITER = "stormdesk_holds_sqlite_writer"
_READS = ("SELECT", "PRAGMA", "EXPLAIN")


def _writes(statement: str) -> bool:
    """Anything but a plain read may take SQLite's write lock (pysqlite begins before the
    first INSERT, UPDATE, DELETE or REPLACE; BEGIN IMMEDIATE takes it at once)."""
    return not statement.lstrip()[:7].upper().startswith(_READS)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the one writer; busy_timeout makes a writer from another
    # process (a CLI) wait instead of failing (this process's queue: SqliteWriterQueue).
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


async def write_lock(session: AsyncSession) -> None:
    """One consistent view for a read-decide-write transaction (routing), from its first read.

    pysqlite opens a transaction only at the first INSERT/UPDATE/DELETE, so reads before it each
    see whatever was committed at that instant: BEGIN IMMEDIATE makes the whole transaction one
    serial view (no-op once it holds the lock). PostgreSQL's READ COMMITTED gives each
    statement its own snapshot, with the same effect: the transaction runs REPEATABLE READ
    instead, one snapshot for all its reads; a write that meets a row changed since then fails
    with a serialization error (`is_serialization_failure`), and the caller runs it again.
    Call it before the transaction's first statement.
    """
    dialect = session.bind.dialect.name if session.bind is not None else None
    if dialect == "postgresql":
        connection = await session.connection()
        await connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    elif dialect == "sqlite":
        connection = await session.connection()
        raw = await connection.get_raw_connection()
        if not raw.driver_connection.in_transaction:
            await connection.exec_driver_sql("BEGIN IMMEDIATE")


def is_serialization_failure(error: BaseException) -> bool:
    """PostgreSQL's 40001 (and 40P01, a deadlock): the transaction may simply be run again."""
    found: BaseException | None = error
    while found is not None:
        if getattr(found, "sqlstate", None) in ("40001", "40P01"):
            return True
        found = getattr(found, "orig", None) or found.__cause__
    return False


@asynccontextmanager
async def autocommit(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection on which each statement is its own transaction: no BEGIN and COMMIT
    round trips around a statement that needs no company (PostgreSQL's one-statement store,
    a handled mark, a read)."""
    async with engine.connect() as connection:
        yield await connection.execution_options(isolation_level="AUTOCOMMIT")


def _unbegun(session: AsyncSession) -> AsyncEngine | None:
    """The session's PostgreSQL engine while its unit of work has not touched the database
    (nothing read, written or added: adding begins it too); None once it has, or on SQLite
    (pysqlite begins only at the first write, so reads there cost no BEGIN anyway)."""
    bind = session.bind
    if (session.in_transaction() or not isinstance(bind, AsyncEngine)
            or bind.dialect.name != "postgresql"):
        return None
    return bind


async def rows_at_once(session: AsyncSession, statement: Executable,
                       params: dict[str, Any] | None = None) -> list[Row[Any]]:
    """A statement's rows; while the unit of work has not begun, run on its own in
    autocommit, so the unit's transaction is not started for it (a BEGIN now and, if
    nothing is written after it, a COMMIT). Once the unit has begun, in its transaction.

    Right for a plain read at any point: at READ COMMITTED every statement takes a fresh
    snapshot anyway, so it is the same read (not for SELECT ... FOR UPDATE, whose lock would
    end with it). Right for a write only as the unit's last statement: it is atomic alone,
    and the unit's commit then has nothing to do."""
    engine = _unbegun(session)
    if engine is None:
        return list((await session.execute(statement, params)).all())
    async with autocommit(engine) as connection:
        return list((await connection.execute(statement, params)).all())


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def unit_of_work(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """Commit at the edge (STYLE 8): services flush, this wrapper commits or rolls back."""
    async with sessions() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        try:
            rows = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
        except Exception:  # noqa: BLE001 - a missing table means "never migrated"
            return None
    return ",".join(sorted(r[0] for r in rows)) or None


async def assert_migrated(engine: AsyncEngine, expected_heads: set[str]) -> None:
    """Refuse to serve on a database whose schema is not at the code's migration heads."""
    found = await current_revision(engine)
    found_set = set(found.split(",")) if found else set()
    if found_set != expected_heads:
        raise Unavailable(
            "database is not migrated "
            f"(at {found or 'nothing'}, code expects {','.join(sorted(expected_heads))}): "
            "run `stormdesk migrate`"
        )
