"""How long the demo utility takes to seed, and how fast the ledger answers "what do I owe?"."""

from __future__ import annotations

import random
import time
from datetime import date
from typing import Any

from sqlalchemy import func, select, text

from bench.context import BenchContext
from bench.stats import human, summary_ms
from core.accounts.flows import account_summary
from core.accounts.models import Account
from core.billing import repository as ledger
from core.db import make_engine, make_sessionmaker
from core.demo import SeedOptions, seed_demo_utility

HEADLINE = "seed s"
SETUPS = (
    "embedded (SQLite) and production (PostgreSQL): seeding is a one-shot command, so there "
    "are no workers or Redis in it."
)
TITLE = "Demo utility seeding and ledger balance queries"
DESCRIPTION = (
    "`stormdesk seed` into an empty, migrated database (12 months of bills and payments), then "
    "random single-account lookups through the real code: `balance_cents` (SUM over the "
    "account's ledger entries) and `account_summary` (balance, aging, bills, payments, "
    "arrangements, deposits, orders, premises: ~10 queries). Latencies are one client, "
    "one query at a time, after 50 warm-up lookups."
)
AS_OF = date(2026, 11, 24)
SIZES = (10_000, 100_000)
QUICK_SIZES = (2_000,)
# What profiling and the runs taught; printed under the table with every run.
FINDINGS = (
    ("Profiled once (pyinstrument, 4,000 customers on SQLite) before optimizing: about half the "
    "time was SQLAlchemy's per-row bind processing in Core `insert()` executemany, the rest "
    "generation (bill lines, payment simulation). Writing pre-converted tuples with the driver's "
    "executemany (SQLite) and COPY (PostgreSQL) took 10,000 customers from 12.5 s to ~9.5 s on "
    "SQLite and from 23.7 s to ~14 s on PostgreSQL."),
    ("On PostgreSQL, COPY of `bill_lines` (5 per bill) and `ledger_entries` dominates: each row "
    "pays foreign-key checks and index upkeep, so rows/s falls as tables grow. Generation "
    "(~0.65 s per 1,000 customers) runs in a thread while the previous chunk is written; it "
    "only overlaps when a core is free."),
    ("Memory stays flat: peak RSS ~265 MB for 4,000 and for 40,000 customers (chunks of 2,000). "
    "500,000 customers was not run here; by the 100,000 rows above, expect ~10 min on SQLite "
    "and ~18+ min on PostgreSQL on this machine."),
)
BALANCE_LOOKUPS = 2_000
SUMMARY_LOOKUPS = 300


async def run(ctx: BenchContext) -> list[dict[str, Any]]:
    rows = []
    for backend in ("sqlite", "postgresql"):
        for customers in QUICK_SIZES if ctx.quick else SIZES:
            ctx.log(f"{backend}: seeding {customers:,} customers")
            async with ctx.database(backend) as url:
                rows.append(await _measure(ctx, backend, url, customers))
    ctx.note("Seed time includes the PostgreSQL ANALYZE at the end; SQLite runs in WAL mode "
             "with synchronous=NORMAL, PostgreSQL loads each chunk with COPY.")
    ctx.note("The machine is shared (2 cores, other engineers' jobs running), so treat single "
             "runs as ±20%.")
    for note in FINDINGS:
        ctx.note(note)
    return rows


async def _measure(ctx: BenchContext, backend: str, url: str, customers: int) -> dict[str, Any]:
    engine = make_engine(url)
    try:
        report = await seed_demo_utility(
            engine, SeedOptions(customers=customers, seed=7, as_of=AS_OF))
        written = sum(report.rows.values())
        ctx.log(f"{backend}: {customers:,} customers in {report.seconds:.1f} s; querying")
        size = await _database_bytes(engine, url)
        sessions = make_sessionmaker(engine)
        async with sessions() as session:
            ids = list((await session.execute(select(Account.id))).scalars())
            ledger_rows = (await session.execute(text("SELECT COUNT(*) FROM ledger_entries"))
                           ).scalar_one()
            rng = random.Random(customers)
            for account_id in rng.sample(ids, 50):
                await ledger.balance_cents(session, account_id=account_id)
            balance = await _timed(
                [ledger.balance_cents(session, account_id=account_id)
                 for account_id in rng.choices(ids, k=BALANCE_LOOKUPS)])
            summary = await _timed(
                [account_summary(session, account_id=account_id, today=AS_OF)
                 for account_id in rng.choices(ids, k=SUMMARY_LOOKUPS)])
        accounts = len(ids)
        assert await _count(engine) == accounts == customers
    finally:
        await engine.dispose()
    return {
        "setup": "embedded: SQLite" if backend == "sqlite" else "production: PostgreSQL",
        "customers": customers,
        "rows written": human(written),
        "ledger entries": human(ledger_rows),
        "seed s": round(report.seconds, 1),
        "rows/s": human(written / report.seconds),
        "db size": f"{size / 1e6:,.0f} MB",
        "balance p50 ms": balance["p50"],
        "balance p99 ms": balance["p99"],
        "summary p50 ms": summary["p50"],
        "summary p99 ms": summary["p99"],
    }


async def _timed(calls: list[Any]) -> dict[str, float]:
    """Awaits the coroutines one after another, timing each."""
    samples = []
    for call in calls:
        started = time.perf_counter()
        await call
        samples.append(time.perf_counter() - started)
    return summary_ms(samples)


async def _count(engine: Any) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(Account))).scalar_one()


async def _database_bytes(engine: Any, url: str) -> int:
    async with engine.connect() as conn:
        if url.startswith("sqlite"):
            pages = (await conn.execute(text("PRAGMA page_count"))).scalar_one()
            page = (await conn.execute(text("PRAGMA page_size"))).scalar_one()
            return int(pages * page)
        return int((await conn.execute(text("SELECT pg_database_size(current_database())"))
                    ).scalar_one())
