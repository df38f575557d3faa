"""The demo utility is consistent, deterministic and realistic enough to demo on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from core.accounts.models import Account
from core.arrangements.models import Arrangement, Installment
from core.billing.models import Bill, BillLine, LedgerEntry
from core.config import get_settings
from core.customers.models import Contact, Customer
from core.db import make_engine
from core.demo import DEMO_PERSONAS, SeedOptions, SeedReport, seed_demo_utility
from core.demo.generator import DemoUtility
from core.demo.rows import Ids
from core.phones import to_e164
from core.premises.models import Premise, ServicePoint

AS_OF = date(2026, 3, 15)
CUSTOMERS = 300


@dataclass
class Seeded:
    url: str
    report: SeedReport


@pytest.fixture
async def seeded(db_url: str) -> AsyncIterator[Seeded]:
    engine = make_engine(db_url)
    try:
        options = SeedOptions(customers=CUSTOMERS, seed=11, as_of=AS_OF, chunk_size=120)
        report = await seed_demo_utility(engine, options)
    finally:
        await engine.dispose()
    yield Seeded(db_url, report)


async def _scalars(url: str, query):  # type: ignore[no-untyped-def]
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(query)).all())
    finally:
        await engine.dispose()


async def test_counts_match_the_report_and_each_other(seeded: Seeded) -> None:
    tables = ["customers", "accounts", "premises", "service_points", "bills", "bill_lines",
              "ledger_entries", "arrangements", "installments", "contacts"]
    union = " UNION ALL ".join(f"SELECT '{t}', COUNT(*) FROM {t}" for t in tables)
    counts = dict(await _scalars(seeded.url, text(union)))
    assert counts["customers"] == CUSTOMERS == counts["accounts"]
    for table in tables:
        assert counts[table] == seeded.report.rows.get(table, 0), table
    # Every bill is charged once on the ledger, and its lines add up to it.
    charges = await _scalars(seeded.url, select(func.count()).where(LedgerEntry.kind == "charge"))
    assert charges[0][0] == counts["bills"]
    mismatched = await _scalars(seeded.url, select(Bill.id).where(
        Bill.amount_cents != select(func.sum(BillLine.amount_cents))
        .where(BillLine.bill_id == Bill.id).scalar_subquery()))
    assert mismatched == []
    # Businesses and multi-premise customers exist even in a small seed.
    multi = await _scalars(seeded.url, select(Premise.account_id).where(
        Premise.account_id.is_not(None)).group_by(Premise.account_id).having(func.count() > 1))
    assert len(multi) >= 5


async def test_every_phone_is_e164_and_personas_are_there(seeded: Seeded) -> None:
    phones = [v for (v,) in await _scalars(
        seeded.url, select(Contact.value).where(Contact.kind == "phone"))]
    assert len(phones) > CUSTOMERS * 0.9
    assert all(to_e164(phone) == phone for phone in phones)
    assert all(phone[5:8] == "555" for phone in phones)  # fictional exchange only
    assert len(set(phones)) == len(phones)
    rows = await _scalars(seeded.url, select(Contact.value, Account.number, Premise.zip)
                          .join(Account, Account.customer_id == Contact.customer_id)
                          .join(Premise, Premise.account_id == Account.id))
    found = {(phone, number, zip_code) for phone, number, zip_code in rows}
    for persona in DEMO_PERSONAS:
        assert (persona.phone, persona.account_number, persona.zip) in found, persona.key
    landlord = next(p for p in DEMO_PERSONAS if p.key == "landlord")
    nicknames = await _scalars(seeded.url, select(Premise.nickname).join(
        Account, Account.id == Premise.account_id).where(Account.number == landlord.account_number))
    assert sorted(n for (n,) in nicknames) == sorted(landlord.nicknames)


async def test_past_due_accounts_owe_and_arrangements_add_up(seeded: Seeded) -> None:
    balance = select(func.sum(LedgerEntry.amount_cents)).where(
        LedgerEntry.account_id == Account.id).scalar_subquery()
    in_collections = await _scalars(seeded.url, select(Account.number, balance).where(
        Account.collection_stage != "none"))
    assert len(in_collections) >= CUSTOMERS * 0.03
    assert all(owed > 0 for _, owed in in_collections)
    arrangements = await _scalars(seeded.url, select(
        Arrangement.status, Arrangement.total_cents, Arrangement.installment_count,
        select(func.sum(Installment.amount_cents))
        .where(Installment.arrangement_id == Arrangement.id).scalar_subquery(),
        select(func.count()).where(Installment.arrangement_id == Arrangement.id)
        .scalar_subquery(),
    ))
    assert {status for status, *_ in arrangements} >= {"active", "broken"}
    for _, total, count, installment_sum, rows in arrangements:
        assert installment_sum == total
        assert rows == count + 1  # the down payment is installment 0


async def test_every_electric_service_point_has_a_transformer(seeded: Seeded) -> None:
    points = await _scalars(seeded.url, select(ServicePoint.service_kind,
                                               ServicePoint.transformer_id))
    electric = [t for kind, t in points if kind == "electric"]
    premises = await _scalars(seeded.url, select(func.count()).select_from(Premise))
    assert len(electric) == premises[0][0]
    assert all(t is not None for t in electric)
    assert all(t is None for kind, t in points if kind != "electric")
    per_transformer = await _scalars(seeded.url, select(func.count()).where(
        ServicePoint.service_kind == "electric").group_by(ServicePoint.transformer_id))
    assert max(n for (n,) in per_transformer) <= 36


def _first_rows(seed: int) -> dict[str, list[dict[str, object]]]:
    utility = DemoUtility(SeedOptions(customers=80, seed=seed, as_of=AS_OF), Ids({}))
    return dict(utility.build_chunk(0, 80).rows)


def test_same_seed_same_utility_different_seed_different() -> None:
    first, again, other = _first_rows(5), _first_rows(5), _first_rows(6)
    assert first == again
    assert first["customers"][len(DEMO_PERSONAS):] != other["customers"][len(DEMO_PERSONAS):]
    assert first["ledger_entries"] != other["ledger_entries"]


def test_if_empty_leaves_a_seeded_database_alone(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stormdesk.cli import app

    monkeypatch.setenv("DATABASE_URL", db_url)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        first = runner.invoke(app, ["seed", "--customers", "25", "--months", "3"])
        assert first.exit_code == 0, first.output
        again = runner.invoke(app, ["seed", "--customers", "40", "--if-empty"])
        assert again.exit_code == 0, again.output
        refused = runner.invoke(app, ["seed", "--customers", "40"])
        assert refused.exit_code == 1
    finally:
        get_settings.cache_clear()
    count = asyncio.run(_scalars(db_url, select(func.count()).select_from(Customer)))
    assert count[0][0] == 25
