"""The account panel and its actions from the console: through the core's policies, announced
to the right people, audited; an over-limit adjustment waits for a supervisor."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from accountcore_factories import ADMIN, bill, customer_with_account
from console_kit import console
from sqlalchemy import select

from core.adjustments.models import AdjustmentRequest
from core.agents.models import Agent, ConsoleEvent, Offer
from core.audit.models import AuditEntry
from core.billing.models import LedgerEntry
from core.billing.repository import add_entry, balance_cents
from core.clock import today, utcnow
from core.db import unit_of_work
from core.premises.service import create_premise

PHONE = "+15045550101"


async def _setup(c) -> dict[str, int]:
    """A customer with an account past due, a premise and a fee; Amy holds their conversation."""
    async with unit_of_work(c.runtime.sessions) as session:
        customer, account = await customer_with_account(session, phone=PHONE)
        premise = await create_premise(session, address="12 Levee St", city="Riverbend",
                                       state="LA", zip_code="70001", account_id=account.id,
                                       services=["electric"])
        await bill(session, account_id=account.id, issued_on=today() - timedelta(days=70),
                   amount="180.00")
        fee = await add_entry(session, LedgerEntry(
            account_id=account.id, kind="fee", amount_cents=2500, posted_at=utcnow(),
            memo="late fee", actor=ADMIN.name, code="late_fee"))
        ids = {"customer": customer.id, "account": account.id, "premise": premise.id,
               "fee": fee.id}
    amy = await c.agent("amy")
    await c.agent("bob")
    await c.agent("sue", role="supervisor")
    for name in ("amy", "bob", "sue"):
        await c.login(name)
    async with c.runtime.sessions() as session:
        # Bob is busy: the offer goes to Amy.
        bob = (await session.scalars(select(Agent).where(Agent.username == "bob"))).one()
        bob.presence = "busy"
        await session.commit()
    ids["conversation"] = await c.queued(phone=PHONE, customer_id=customer.id)
    await c.route()
    async with c.runtime.sessions() as session:
        offer = (await session.scalars(select(Offer))).one()
    assert offer.agent_id == amy.id
    accepted = await c.http.post(f"/api/v1/agent/offers/{offer.id}/accept", headers=c.auth("amy"))
    assert accepted.status_code == 200
    ids["amy"] = amy.id
    return ids


async def test_panel_shows_the_customers_accounts_and_premise_outages(db_url) -> None:
    async with console(db_url) as c:
        ids = await _setup(c)
        listed = await c.http.get(f"/api/v1/agent/conversations/{ids['conversation']}/accounts",
                                  headers=c.auth("amy"))
        assert listed.status_code == 200, listed.text
        [brief] = listed.json()["accounts"]
        assert brief["account_id"] == ids["account"] and brief["balance"] == "205.00"
        assert brief["past_due"] == "180.00"
        panel = (await c.http.get(f"/api/v1/agent/accounts/{ids['account']}",
                                  headers=c.auth("amy"))).json()
        assert panel["balance"] == "205.00"
        assert [b["amount"] for b in panel["bills"]] == ["180.00"]
        assert panel["premise_outages"][0]["address"] == "12 Levee St"
        assert panel["premise_outages"][0]["outage"] is None
        canned = (await c.http.get(f"/api/v1/agent/conversations/{ids['conversation']}/canned",
                                   headers=c.auth("amy"))).json()
        balance = next(r for r in canned if r["shortcut"] == "bal")
        assert "is $205.00, due " in balance["text"] and "{" not in balance["text"]
        greeting = next(r for r in canned if r["shortcut"] == "hi")
        assert greeting["text"].startswith("Hi Ngozi, this is Amy with Riverbend")


async def test_over_limit_adjustment_waits_for_a_supervisor_who_approves_it(db_url) -> None:
    async with console(db_url) as c:
        ids = await _setup(c)
        account = ids["account"]
        small = await c.http.post(f"/api/v1/agent/accounts/{account}/adjustments",
                                  json={"amount": "-20.00", "reason": "estimated read"},
                                  headers=c.auth("amy"))
        assert small.json()["status"] == "posted"
        big = await c.http.post(f"/api/v1/agent/accounts/{account}/adjustments",
                                json={"amount": "-150.00", "reason": "billing error"},
                                headers=c.auth("amy"))
        assert big.status_code == 200 and big.json()["status"] == "pending_approval"
        request_id = big.json()["request"]["request_id"]

        queue = (await c.http.get("/api/v1/supervisor/approvals", headers=c.auth("sue"))).json()
        assert [(r["request_id"], r["amount"], r["requested_by"]) for r in queue] == [
            (request_id, "-150.00", "agent:amy")]
        self_approval = await c.http.post(f"/api/v1/supervisor/approvals/{request_id}/approve",
                                          json={}, headers=c.auth("amy"))
        assert self_approval.status_code == 403
        approved = await c.http.post(f"/api/v1/supervisor/approvals/{request_id}/approve",
                                     json={"reason": "checked the meter history"},
                                     headers=c.auth("sue"))
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "approved"
        assert approved.json()["decided_by"] == "agent:sue"

        async with c.runtime.sessions() as session:
            assert await balance_cents(session, account_id=account) == 20500 - 2000 - 15000
            events = list(await session.scalars(select(ConsoleEvent).where(
                ConsoleEvent.kind.in_(["approval.requested", "approval.decided"]))
                .order_by(ConsoleEvent.id)))
            actions = list(await session.scalars(select(AuditEntry.action).where(
                AuditEntry.account_id == account).order_by(AuditEntry.id)))
        assert [(e.kind, e.audience) for e in events] == [
            ("approval.requested", "supervisors"),
            ("approval.decided", f"agent:{ids['amy']}"),
            ("approval.decided", "supervisors"),
        ]
        assert actions[-3:] == ["adjustment.post", "adjustment.request", "adjustment.post"]


async def test_fee_waiver_arrangement_deposit_order_and_note_are_each_audited(db_url) -> None:
    async with console(db_url) as c:
        ids = await _setup(c)
        account = ids["account"]
        base = f"/api/v1/agent/accounts/{account}"
        waived = await c.http.post(f"{base}/fee-waivers",
                                   json={"ledger_entry_id": ids["fee"], "reason": "first time"},
                                   headers=c.auth("amy"))
        assert waived.json()["status"] == "posted", waived.text
        twice = await c.http.post(f"{base}/fee-waivers",
                                  json={"ledger_entry_id": ids["fee"], "reason": "again"},
                                  headers=c.auth("amy"))
        assert twice.status_code == 409

        offer = (await c.http.get(f"{base}/arrangement-offer", headers=c.auth("amy"))).json()
        assert offer["eligible"] is True, offer
        plan = await c.http.post(f"{base}/arrangements",
                                 json={"installments": offer["min_installments"]},
                                 headers=c.auth("amy"))
        assert plan.status_code == 200, plan.text
        assert plan.json()["total"] == offer["total"]

        deposit = await c.http.post(f"{base}/deposits",
                                    json={"amount": "150.00", "reason": "poor credit"},
                                    headers=c.auth("amy"))
        assert deposit.json()["amount"] == "150.00"
        order = await c.http.post(f"{base}/service-orders",
                                  json={"kind": "meter_reread", "premise_id": ids["premise"],
                                        "notes": "reading looks high"}, headers=c.auth("amy"))
        assert order.status_code == 200 and order.json()["kind"] == "meter_reread"
        note = await c.http.post(f"{base}/notes", json={"body": "prefers texts after 5pm"},
                                 headers=c.auth("amy"))
        assert note.status_code == 200
        panel = (await c.http.get(base, headers=c.auth("amy"))).json()
        assert [n["body"] for n in panel["notes"]] == ["prefers texts after 5pm"]
        assert [o["kind"] for o in panel["open_service_orders"]] == ["meter_reread"]

        async with c.runtime.sessions() as session:
            audited = list(await session.execute(select(AuditEntry.action, AuditEntry.actor)
                                                 .where(AuditEntry.account_id == account,
                                                        AuditEntry.actor == "agent:amy")
                                                 .order_by(AuditEntry.id)))
            requests = list(await session.scalars(select(AdjustmentRequest.code)))
        assert [a for a, _ in audited] == [
            "adjustment.post", "arrangement.create", "deposit.require",
            "service_order.create", "account.note"]
        assert requests == [f"waive:{ids['fee']}"]
        assert date.fromisoformat(plan.json()["installments"][0]["due_on"]) >= today()
        assert Decimal(deposit.json()["amount"]) == Decimal("150.00")
