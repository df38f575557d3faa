"""The demo utility: a deterministic, realistic customer base built in chunks of plain rows.

Same seed and as-of date → the same utility, row for row. Nothing but the current chunk is held
in memory, so 500,000 customers stream like 5,000 do.
"""

from __future__ import annotations

import asyncio
import random
import time as clock
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.accounts.policy import DEFAULT_COLLECTIONS_POLICY
from core.clock import today
from core.customers.models import Customer
from core.demo import history as hist
from core.demo import names
from core.demo.network import Site, Territory
from core.demo.personas import DEMO_PERSONAS, Persona, account_number
from core.demo.rows import Batch, Ids
from core.demo.usage import PremiseLoad, bill_lines, draw_load
from core.demo.writer import RowWriter, last_ids
from core.money import to_cents

PAYMENT_METHODS = (("card", 0.42), ("ach", 0.33), ("check", 0.15), ("cash", 0.10))
PHONE_LINES_PER_AREA = 9800  # lines 0200-9999 of exchange 555; 0100-0199 are the personas'


@dataclass(frozen=True)
class SeedOptions:
    customers: int
    seed: int = 7
    months: int = 12
    as_of: date | None = None  # the "today" of the generated history; default: today
    chunk_size: int = 2000


@dataclass
class SeedReport:
    customers: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def demo_phone(serial: int) -> str:
    """The serial-th fictional number: NANP area code, exchange 555, a scrambled line ≥ 0200."""
    area = names.AREA_CODES[(serial // PHONE_LINES_PER_AREA) % len(names.AREA_CODES)]
    line = 200 + (serial * 7919 + 1234) % PHONE_LINES_PER_AREA
    return f"+1{area}555{line:04d}"


def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in plain.lower() if c.isalnum())


def _noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=UTC)


class DemoUtility:
    """Builds customers chunk by chunk; all randomness comes from one seeded generator."""

    def __init__(self, options: SeedOptions, ids: Ids) -> None:
        self.options = options
        self.as_of = options.as_of or today()
        self.rng = random.Random(options.seed)
        self.ids = ids
        self.territory = Territory(self.rng, ids)
        self.phone_serial = 0

    def build_chunk(self, first: int, count: int) -> Batch:
        """Customers number first … first+count-1 (0-based; the first few are the personas)."""
        batch = Batch()
        rng = self.rng
        plans = [self._plan_customer(first + n) for n in range(count)]
        wanted = sum(len(plan.nicknames) for plan in plans)
        vacant = round(wanted * 0.02)
        sites = [self.territory.next_site(batch) for _ in range(wanted + vacant)]
        personas = sum(1 for plan in plans if plan.persona)
        primary, pool = sites[:personas], sites[personas:]
        rng.shuffle(pool)  # a landlord's rentals land on different streets and feeders
        for plan in plans:
            extra = len(plan.nicknames) - 1
            plan.sites = [primary.pop(0) if plan.persona else pool.pop()]
            plan.sites += [pool.pop() for _ in range(extra)]
            self._build_customer(batch, plan)
        for site in pool:
            self._add_premise(batch, site, account_id=None, commercial=False, nickname=None,
                              load=draw_load(rng, commercial=False, vacant=True), started=None)
        return batch

    # -- one customer --------------------------------------------------------------------------

    def _plan_customer(self, serial: int) -> CustomerPlan:
        rng = self.rng
        persona = DEMO_PERSONAS[serial] if serial < len(DEMO_PERSONAS) else None
        if persona:
            business = persona.business_name is not None
            return CustomerPlan(persona=persona, business=business, language=persona.language,
                                nicknames=list(persona.nicknames), behavior=persona.behavior)
        business = rng.random() < 0.05
        if business:
            premises = rng.choice((2, 2, 3)) if rng.random() < 0.4 else 1
        else:
            premises = rng.choice((2, 2, 2, 3, 3, 4, 5)) if rng.random() < 0.063 else 1
        nicknames: list[str] = [""] * premises
        if premises > 1 and rng.random() < 0.5:
            nicknames = rng.sample(names.PREMISE_NICKNAMES, premises)
        language = "es" if rng.random() < 0.15 else "en"
        return CustomerPlan(persona=None, business=business, language=language,
                            nicknames=nicknames, behavior=hist.draw_behavior(rng))

    def _build_customer(self, batch: Batch, plan: CustomerPlan) -> None:
        rng = self.rng
        persona = plan.persona
        customer_id = self.ids.next("customers")
        account_id = self.ids.next("accounts")
        opened_on = self._opened_on()
        first_name, last_name, business_name = self._names(plan)
        home = plan.sites[0]
        batch.add("customers", {
            "id": customer_id, "kind": "business" if plan.business else "person",
            "first_name": first_name, "last_name": last_name, "business_name": business_name,
            "mailing_address": home.address + (f" {home.unit}" if home.unit else ""),
            "mailing_city": home.city, "mailing_state": home.state, "mailing_zip": home.zip,
            "language": plan.language, "created_at": _noon(opened_on),
        })
        self._add_contacts(batch, plan, customer_id, opened_on, first_name, last_name,
                           business_name)

        loads = [draw_load(rng, commercial=plan.business) for _ in plan.sites]
        for site, nickname, load in zip(plan.sites, plan.nicknames, loads, strict=True):
            self._add_premise(batch, site, account_id=account_id, commercial=plan.business,
                              nickname=nickname or None, load=load, started=opened_on)

        bills = self._bills(batch, account_id, loads, opened_on, persona)
        nsf = 0 if persona else (2 if rng.random() < 0.004 else 1 if rng.random() < 0.012 else 0)
        history = hist.simulate(
            rng, bills=bills, as_of=self.as_of, behavior=plan.behavior,
            method="cash" if nsf >= 2 else self._payment_method(), nsf_returns=nsf,
            unpaid_bills=2 if persona and plan.behavior == "past_due" else None,
            fresh_bill=bool(persona and persona.fresh_bill),
        )
        bill_ids = [row["id"] for row in batch.rows["bills"][-len(bills):]] if bills else []
        self._add_ledger(batch, account_id, history, bill_ids)
        if history.arrangement:
            self._add_arrangement(batch, account_id, history.arrangement)

        account = self._account_row(account_id, customer_id, plan, opened_on, nsf >= 2)
        self._collections(account, history, bills, plan)
        batch.add("accounts", account)
        self._add_deposit(batch, account, bills)
        self._add_service_orders(batch, account_id, plan, loads)

    def _opened_on(self) -> date:
        rng = self.rng
        window = 30 * self.options.months
        if rng.random() < 0.09:
            return self.as_of - timedelta(days=rng.randint(10, max(window, 11)))
        return self.as_of - timedelta(days=rng.randint(window + 30, 365 * 25))

    def _names(self, plan: CustomerPlan) -> tuple[str | None, str | None, str | None]:
        rng = self.rng
        if plan.persona:
            p = plan.persona
            return p.first_name, p.last_name, p.business_name
        if plan.business:
            form = rng.choice(names.BUSINESS_FORMS)
            title = f"{rng.choice(names.BUSINESS_WORDS)} {rng.choice(names.BUSINESS_KINDS)}"
            return None, None, f"{title} {form}".strip()
        spanish = plan.language == "es" or rng.random() < 0.08
        firsts = names.SPANISH_FIRST_NAMES if plan.language == "es" else names.FIRST_NAMES
        lasts = names.SPANISH_LAST_NAMES if spanish else names.LAST_NAMES
        return rng.choice(firsts), rng.choice(lasts), None

    def _add_contacts(
        self, batch: Batch, plan: CustomerPlan, customer_id: int, opened_on: date,
        first_name: str | None, last_name: str | None, business_name: str | None,
    ) -> None:
        rng = self.rng
        since = _noon(opened_on)
        phones: list[str] = []
        if plan.persona:
            phones.append(plan.persona.phone)
        elif rng.random() < 0.97:
            phones.append(self._next_phone())
            if rng.random() < 0.12:
                phones.append(self._next_phone())
        for position, phone in enumerate(phones):
            opted_out = not plan.persona and position == 0 and rng.random() < 0.02
            alerts = not opted_out and (plan.persona is not None or rng.random() < 0.8)
            channel = "sms" if plan.persona else rng.choice(("sms", "sms", "sms", "voice",
                                                             "voice", "whatsapp"))
            batch.add("contacts", {
                "id": self.ids.next("contacts"), "customer_id": customer_id, "kind": "phone",
                "value": phone, "is_primary": position == 0, "language": plan.language,
                "preferred_channel": channel, "outage_alerts": alerts,
                "consent_at": since if alerts else None,
                "verified_at": since if plan.persona or rng.random() < 0.6 else None,
                "created_at": since,
            })
            if opted_out:
                changed = _noon(self.as_of - timedelta(days=rng.randint(1, 300)))
                batch.add("opt_outs", {"id": self.ids.next("opt_outs"), "address": phone,
                                       "opted_out": True, "keyword": "STOP",
                                       "changed_at": changed})
        email = plan.persona.email if plan.persona else None
        if email is None and not plan.persona and rng.random() < (0.9 if plan.business else 0.55):
            who = _ascii(business_name or "") or f"{_ascii(first_name or '')}.{_ascii(last_name or '')}"
            domain = rng.choice(("example.com", "example.net", "example.org"))
            email = f"{who}{customer_id}@{domain}"
        if email:
            batch.add("contacts", {
                "id": self.ids.next("contacts"), "customer_id": customer_id, "kind": "email",
                "value": email, "is_primary": not phones, "language": plan.language,
                "preferred_channel": "email", "outage_alerts": rng.random() < 0.5,
                "consent_at": since, "verified_at": since, "created_at": since,
            })

    def _next_phone(self) -> str:
        phone = demo_phone(self.phone_serial)
        self.phone_serial += 1
        return phone

    def _add_premise(
        self, batch: Batch, site: Site, *, account_id: int | None, commercial: bool,
        nickname: str | None, load: PremiseLoad, started: date | None,
    ) -> None:
        rng = self.rng
        premise_id = self.ids.next("premises")
        batch.add("premises", {
            "id": premise_id, "account_id": account_id,
            "kind": "commercial" if commercial else "residential",
            "address": site.address, "unit": site.unit, "city": site.city, "state": site.state,
            "zip": site.zip, "nickname": nickname,
        })
        meters = [("electric", "E", load.smart_meter, site.transformer_id)]
        if load.gallons is not None:
            meters.append(("water", "W", rng.random() < 0.4, None))
        if load.therms is not None:
            meters.append(("gas", "G", rng.random() < 0.2, None))
        for kind, prefix, smart, transformer_id in meters:
            point_id = self.ids.next("service_points")
            batch.add("service_points", {
                "id": point_id, "premise_id": premise_id, "service_kind": kind,
                "meter_number": f"{prefix}{point_id:09d}", "smart_meter": smart,
                "transformer_id": transformer_id,
            })
        rate = "COM" if commercial else "RES"
        for kind in load.services:
            batch.add("services", {
                "id": self.ids.next("services"), "premise_id": premise_id,
                "account_id": account_id, "kind": kind, "rate_code": rate,
                "status": "active" if account_id else "stopped",
                "started_on": started or self.as_of - timedelta(days=400),
                "stopped_on": None if account_id else self.as_of - timedelta(days=rng.randint(3, 90)),
            })

    def _bills(
        self, batch: Batch, account_id: int, loads: list[PremiseLoad], opened_on: date,
        persona: Persona | None,
    ) -> list[hist.BillDraft]:
        cycle_day = self.rng.randint(1, 28)
        if persona and persona.fresh_bill:
            cycle_day = min(28, (self.as_of - timedelta(days=7)).day)
        bills = hist.billing_calendar(as_of=self.as_of, months=self.options.months,
                                      cycle_day=cycle_day, opened_on=opened_on)
        for bill in bills:
            bill_id = self.ids.next("bills")
            lines = bill_lines(self.rng, loads, bill.period_end.month)
            share = ((bill.period_end - bill.period_start).days + 1) / 30
            amount = 0
            for kind, usage, unit, cents, estimated in lines:
                if share < 0.9:  # first, partial period: prorated
                    cents = round(cents * share)
                amount += cents
                batch.add("bill_lines", {
                    "id": self.ids.next("bill_lines"), "bill_id": bill_id, "service_kind": kind,
                    "usage": usage, "unit": unit, "amount_cents": cents,
                    "estimated_read": estimated,
                })
            bill.amount = amount
            batch.add("bills", {
                "id": bill_id, "account_id": account_id, "period_start": bill.period_start,
                "period_end": bill.period_end, "issued_on": bill.issued_on,
                "due_on": bill.due_on, "amount_cents": amount,
            })
        return bills

    def _payment_method(self) -> str:
        roll = self.rng.random()
        for method, share in PAYMENT_METHODS:
            if roll < share:
                return method
            roll -= share
        return "card"

    def _add_ledger(
        self, batch: Batch, account_id: int, history: hist.History, bill_ids: list[int]
    ) -> None:
        order = sorted(range(len(history.entries)), key=lambda i: history.entries[i].posted_at)
        entry_ids = [0] * len(history.entries)
        for index in order:
            entry_ids[index] = self.ids.next("ledger_entries")
        for index in order:
            entry = history.entries[index]
            batch.add("ledger_entries", {
                "id": entry_ids[index], "account_id": account_id, "kind": entry.kind,
                "amount_cents": entry.amount, "posted_at": entry.posted_at,
                "bill_id": bill_ids[entry.bill_index] if entry.bill_index is not None else None,
                "reverses_id": entry_ids[entry.reverses] if entry.reverses is not None else None,
                "method": entry.method, "reference": None, "memo": entry.memo,
                "actor": "customer" if entry.kind == "payment" else "system", "quantity": None,
                "code": entry.code,
            })

    def _add_arrangement(
        self, batch: Batch, account_id: int, plan: hist.ArrangementDraft
    ) -> None:
        arrangement_id = self.ids.next("arrangements")
        batch.add("arrangements", {
            "id": arrangement_id, "account_id": account_id, "status": plan.status,
            "total_cents": plan.total, "down_payment_cents": plan.down,
            "installment_count": len(plan.installments) - 1, "created_on": plan.created_on,
            "ended_on": plan.ended_on, "created_by": self.rng.choice(("bot", "agent:demo")),
            "created_at": _noon(plan.created_on),
        })
        for seq, (due_on, amount, paid) in enumerate(plan.installments):
            batch.add("installments", {
                "id": self.ids.next("installments"), "arrangement_id": arrangement_id,
                "seq": seq, "due_on": due_on, "amount_cents": amount, "paid_cents": paid,
            })

    def _account_row(
        self, account_id: int, customer_id: int, plan: CustomerPlan, opened_on: date,
        cash_only: bool,
    ) -> dict[str, object]:
        rng = self.rng
        rating = "good" if plan.persona else rng.choices(
            ("good", "fair", "poor", "none"), weights=(55, 20, 7, 18))[0]
        return {
            "id": account_id, "number": account_number(account_id), "customer_id": customer_id,
            "kind": "commercial" if plan.business else "residential", "status": "active",
            "opened_on": opened_on, "closed_on": None, "credit_rating": rating,
            "cash_only": cash_only,
            "energy_assistance": not plan.business and not plan.persona and rng.random() < 0.06,
            "medical_hold_until": None, "bankruptcy_filed_on": None, "bankruptcy_chapter": None,
            "collection_stage": "none", "collection_stage_at": None,
            "disconnect_pending": False, "disconnect_hold_reason": None,
            "created_at": _noon(opened_on),
        }

    def _collections(
        self, account: dict[str, object], history: hist.History, bills: list[hist.BillDraft],
        plan: CustomerPlan,
    ) -> None:
        """Late notice → disconnect notice → disconnect list by age and size of the past-due debt."""
        rng = self.rng
        policy = DEFAULT_COLLECTIONS_POLICY
        arrangement = history.arrangement
        if arrangement and arrangement.status == "active":
            account["disconnect_hold_reason"] = "arrangement"
            return  # an arrangement holds collection on the arranged debt
        aged = hist.aging(history, bills, self.as_of)
        oldest = aged.oldest_past_due_on
        if aged.past_due_cents < to_cents(policy.min_past_due) or oldest is None:
            return
        late = policy.late_notice_after_days
        notice = late + policy.disconnect_notice_after_days
        listed = notice + policy.disconnect_list_after_days
        days = (self.as_of - oldest).days
        if days < late:
            return  # inside the grace period
        if not plan.persona and rng.random() < 0.01:
            account["bankruptcy_filed_on"] = self.as_of - timedelta(days=rng.randint(3, 25))
            account["bankruptcy_chapter"] = rng.choice((7, 13))
            account["disconnect_hold_reason"] = "bankruptcy"
            return  # the automatic stay stops collection
        stage, after = (
            ("disconnect_list", listed) if days >= listed
            else ("disconnect_notice", notice) if days >= notice
            else ("late_notice", late)
        )
        account["collection_stage"] = stage
        account["collection_stage_at"] = _noon(oldest + timedelta(days=after))
        account["disconnect_pending"] = stage == "disconnect_list"
        if stage != "late_notice" and not plan.persona and rng.random() < 0.08:
            account["medical_hold_until"] = self.as_of + timedelta(days=rng.randint(15, 60))
            account["disconnect_hold_reason"] = "medical"

    def _add_deposit(
        self, batch: Batch, account: dict[str, object], bills: list[hist.BillDraft]
    ) -> None:
        """Commercial accounts always; residential with poor credit usually: 2× the average bill."""
        rng = self.rng
        commercial = account["kind"] == "commercial"
        if not commercial and not (account["credit_rating"] == "poor" and rng.random() < 0.6):
            return
        amounts = [b.amount for b in bills[:12]] or [15000]
        required = max(5000, round(2 * sum(amounts) / len(amounts), -3))
        opened_on = account["opened_on"]
        assert isinstance(opened_on, date)
        batch.add("deposits", {
            "id": self.ids.next("deposits"), "account_id": account["id"],
            "required_cents": required, "paid_cents": required, "status": "held",
            "reason": "new commercial account" if commercial else "credit history",
            "required_on": opened_on, "due_on": opened_on + timedelta(days=20),
            "refund_review_on": None if commercial else opened_on + timedelta(days=365),
        })

    def _add_service_orders(
        self, batch: Batch, account_id: int, plan: CustomerPlan, loads: list[PremiseLoad]
    ) -> None:
        rng = self.rng
        if plan.persona:
            return
        roll = rng.random()
        if roll < 0.015:
            kind, status = "meter_reread", rng.choice(("completed", "completed", "open"))
        elif roll < 0.02 and loads[0].gallons is not None:
            kind, status = "leak_adjustment", "open"
        else:
            return
        created = _noon(self.as_of - timedelta(days=rng.randint(1, 120)))
        premise_id = self.ids.last("premises") - len(loads) + 1
        batch.add("service_orders", {
            "id": self.ids.next("service_orders"), "kind": kind, "status": status,
            "account_id": account_id, "premise_id": premise_id, "requested_for": None,
            "fee_cents": 0, "details": {"reason": "customer disputes usage"}
            if kind == "meter_reread" else {"reason": "high water use, leak repaired"},
            "created_by": "system", "created_at": created,
            "completed_at": created + timedelta(days=3) if status == "completed" else None,
        })


@dataclass
class CustomerPlan:
    persona: Persona | None
    business: bool
    language: str
    nicknames: list[str]
    behavior: str
    sites: list[Site] = field(default_factory=list)


async def has_customers(engine: AsyncEngine) -> bool:
    async with engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(
            select(Customer.id).limit(1).subquery()))).scalar_one() > 0


async def seed_demo_utility(
    engine: AsyncEngine,
    options: SeedOptions,
    *,
    on_progress: Callable[[int], None] | None = None,
) -> SeedReport:
    """Writes the demo utility into an empty database, one committed chunk at a time."""
    if await has_customers(engine):
        raise ValueError("the database already has customers: seed only an empty one")
    started = clock.perf_counter()
    report = SeedReport()
    ids = Ids(await last_ids(engine))
    utility = DemoUtility(options, ids)
    writer = RowWriter(engine)
    starts = range(0, options.customers, options.chunk_size)

    def build(first: int) -> Batch:
        return utility.build_chunk(first, min(options.chunk_size, options.customers - first))

    # Build the next chunk in a thread while the database takes this one: chunks are still
    # built strictly in order, so the result does not depend on timing.
    pending = asyncio.create_task(asyncio.to_thread(build, starts[0])) if starts else None
    for position in range(len(starts)):
        assert pending is not None
        batch = await pending
        pending = (asyncio.create_task(asyncio.to_thread(build, starts[position + 1]))
                   if position + 1 < len(starts) else None)
        await writer.write(batch)
        count = len(batch.rows["customers"])
        for table, rows in batch.counts().items():
            report.rows[table] = report.rows.get(table, 0) + rows
        report.customers += count
        if on_progress:
            on_progress(count)
    await writer.finish(ids)
    report.seconds = clock.perf_counter() - started
    return report
