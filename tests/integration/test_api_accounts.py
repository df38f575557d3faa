"""The operator API end to end: tokens required, money as strings, bad input writes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from accountcore_factories import bill, customer_with_account
from fastapi import FastAPI
from sqlalchemy import func, select

from core.adjustments.models import AdjustmentRequest
from core.arrangements.models import Arrangement
from core.audit.models import AuditEntry
from core.auth.service import create_token
from core.billing.models import LedgerEntry
from core.clock import today
from core.config import Settings
from core.customers.models import Customer
from core.db import unit_of_work
from core.runtime import Runtime
from stormdesk.app import create_app


@dataclass
class Api:
    app: FastAPI
    client: httpx.AsyncClient
    tokens: dict[str, dict[str, str]]

    @property
    def runtime(self) -> Runtime:
        return self.app.state.runtime

    async def count(self, model: type) -> int:
        async with self.runtime.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(model)))

    def as_(self, role: str) -> dict[str, str]:
        return self.tokens[role]


@pytest.fixture
async def api(db_url: str) -> AsyncIterator[Api]:
    app = create_app(Settings(database_url=db_url, env="test", log_json=False))
    async with app.router.lifespan_context(app):
        tokens = {}
        async with unit_of_work(app.state.runtime.sessions) as session:
            for name, role in (("amy", "agent"), ("bob", "agent"), ("sue", "supervisor"),
                               ("root", "admin"), ("bank", "integration"),
                               ("ops", "operations")):
                _, raw = await create_token(session, name=name, role=role)
                tokens[name] = {"Authorization": f"Bearer {raw}"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://test") as client:
            yield Api(app, client, tokens)


async def seeded_account(api: Api, *, past_due: str | None = "400.00") -> int:
    async with unit_of_work(api.runtime.sessions) as session:
        _, account = await customer_with_account(session)
        if past_due:
            await bill(session, account_id=account.id, issued_on=today() - timedelta(days=40),
                       amount=past_due)
        return account.id


async def test_no_anonymous_access(api: Api) -> None:
    account_id = await seeded_account(api)
    for method, path in (("GET", f"/api/v1/accounts/{account_id}/summary"),
                         ("GET", "/api/v1/customers?phone=5045550101"),
                         ("POST", f"/api/v1/accounts/{account_id}/payments")):
        response = await api.client.request(method, path, json={"amount": "1.00",
                                                                 "method": "card"})
        assert response.status_code == 401, path
    ops = await api.client.get(f"/api/v1/accounts/{account_id}/summary",
                               headers=api.as_("ops"))
    assert ops.status_code == 403


async def test_create_and_look_up_customer_account_premise(api: Api) -> None:
    created = await api.client.post("/api/v1/customers", headers=api.as_("amy"), json={
        "first_name": "Rosa", "last_name": "Parks", "mailing_zip": "70113",
        "contacts": [{"kind": "phone", "value": "(504) 555-0142", "is_primary": True},
                     {"kind": "email", "value": "Rosa@Example.org"}],
    })
    assert created.status_code == 201, created.text
    customer = created.json()
    assert [c["value"] for c in customer["contacts"]] == ["+15045550142", "rosa@example.org"]

    account = await api.client.post("/api/v1/accounts", headers=api.as_("amy"),
                                    json={"customer_id": customer["id"], "kind": "residential"})
    assert account.status_code == 201
    number = account.json()["number"]

    premise = await api.client.post("/api/v1/premises", headers=api.as_("amy"), json={
        "address": "4 Dryades St", "city": "Riverbend", "state": "LA", "zip": "70113",
        "account_id": account.json()["id"], "services": ["electric", "water"]})
    assert premise.status_code == 201
    assert {s["kind"] for s in premise.json()["services"]} == {"electric", "water"}

    for query in ("phone=504-555-0142", "email=rosa@example.org", f"account_number={number}",
                  "name=parks&zip=70113"):
        found = await api.client.get(f"/api/v1/customers?{query}", headers=api.as_("bank"))
        assert [c["id"] for c in found.json()] == [customer["id"]], query
    by_number = await api.client.get(f"/api/v1/accounts?number={number}", headers=api.as_("amy"))
    assert by_number.json()["id"] == account.json()["id"]
    assert (await api.client.get("/api/v1/customers?name=parks",
                                 headers=api.as_("amy"))).status_code == 422
    assert (await api.client.get("/api/v1/customers/999999",
                                 headers=api.as_("amy"))).status_code == 404
    assert (await api.client.get("/api/v1/premises?zip=70113",
                                 headers=api.as_("amy"))).json()[0]["address"] == "4 Dryades St"


async def test_bad_customer_input_writes_nothing(api: Api) -> None:
    before = await api.count(Customer)
    bad_phone = await api.client.post("/api/v1/customers", headers=api.as_("amy"), json={
        "last_name": "X", "contacts": [{"kind": "phone", "value": "123"}]})
    assert bad_phone.status_code == 422
    no_name = await api.client.post("/api/v1/customers", headers=api.as_("amy"), json={})
    assert no_name.status_code == 422
    assert await api.count(Customer) == before


async def test_payment_summary_and_idempotency(api: Api) -> None:
    account_id = await seeded_account(api)
    body = {"amount": "150.25", "method": "card", "reference": "pi_123"}
    first = await api.client.post(f"/api/v1/accounts/{account_id}/payments",
                                  headers=api.as_("bank"), json=body)
    assert first.status_code == 201, first.text
    assert first.json()["balance"] == "249.75"
    assert first.json()["payment"]["amount"] == "-150.25"
    again = await api.client.post(f"/api/v1/accounts/{account_id}/payments",
                                  headers=api.as_("bank"), json=body)
    assert again.status_code == 200 and again.json()["replayed"]
    other = await api.client.post(f"/api/v1/accounts/{account_id}/payments",
                                  headers=api.as_("bank"), json={**body, "amount": "1.00"})
    assert other.status_code == 409
    assert await api.count(LedgerEntry) == 2  # the bill's charge and one payment

    summary = await api.client.get(f"/api/v1/accounts/{account_id}/summary",
                                   headers=api.as_("amy"))
    assert summary.status_code == 200
    data = summary.json()
    assert data["balance"] == "249.75"
    assert data["aging"]["past_due"] == "249.75"
    assert data["payments"][0]["payment"]["reference"] == "pi_123"


@pytest.mark.parametrize("payload", [
    {"amount": "-5.00", "method": "card"},
    {"amount": "0", "method": "card"},
    {"amount": "0.00", "method": "card"},
    {"amount": 12.5, "method": "card"},
    {"amount": "12.345", "method": "card"},
    {"amount": "twelve", "method": "card"},
    {"amount": "1e3", "method": "bitcoin"},
    {"method": "card"},
    {"amount": "5.00", "method": "card", "extra": "field"},
])
async def test_bad_payments_are_422_and_write_nothing(api: Api, payload: dict) -> None:
    account_id = await seeded_account(api)
    before = await api.count(LedgerEntry)
    response = await api.client.post(f"/api/v1/accounts/{account_id}/payments",
                                     headers=api.as_("amy"), json=payload)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid"
    assert await api.count(LedgerEntry) == before


async def test_malformed_json_and_unknown_ids(api: Api) -> None:
    account_id = await seeded_account(api)
    before = await api.count(LedgerEntry)
    broken = await api.client.post(
        f"/api/v1/accounts/{account_id}/payments", content=b'{"amount": "5.00", "meth',
        headers={**api.as_("amy"), "Content-Type": "application/json"})
    assert broken.status_code == 422
    missing = await api.client.post("/api/v1/accounts/987654/payments", headers=api.as_("amy"),
                                    json={"amount": "5.00", "method": "card"})
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert (await api.client.post("/api/v1/payments/987654/return",
                                  headers=api.as_("bank"))).status_code == 404
    assert (await api.client.get("/api/v1/accounts/abc/summary",
                                 headers=api.as_("amy"))).status_code == 422
    assert await api.count(LedgerEntry) == before


async def test_nsf_return_then_cash_only_refuses_checks(api: Api) -> None:
    account_id = await seeded_account(api)
    for ref in ("chk-1", "chk-2"):
        paid = await api.client.post(f"/api/v1/accounts/{account_id}/payments",
                                     headers=api.as_("bank"),
                                     json={"amount": "50.00", "method": "check", "reference": ref})
        returned = await api.client.post(f"/api/v1/payments/{paid.json()['payment']['id']}/return",
                                         headers=api.as_("bank"))
        assert returned.status_code == 201
    assert returned.json()["cash_only"] is True
    assert returned.json()["fee"]["amount"] == "30.00"
    again = await api.client.post(f"/api/v1/payments/{paid.json()['payment']['id']}/return",
                                  headers=api.as_("bank"))
    assert again.status_code == 409
    before = await api.count(LedgerEntry)
    refused = await api.client.post(f"/api/v1/accounts/{account_id}/payments",
                                    headers=api.as_("amy"),
                                    json={"amount": "50.00", "method": "check"})
    assert refused.status_code == 422 and "cash-only" in refused.json()["message"]
    assert await api.count(LedgerEntry) == before


async def test_adjustments_limits_and_approvals(api: Api) -> None:
    account_id = await seeded_account(api)
    url = f"/api/v1/accounts/{account_id}/adjustments"
    small = await api.client.post(url, headers=api.as_("amy"),
                                  json={"amount": "-100.00", "reason": "estimated read"})
    assert small.status_code == 201 and small.json()["status"] == "posted"

    big = await api.client.post(url, headers=api.as_("amy"),
                                json={"amount": "-100.01", "reason": "estimated read"})
    assert big.status_code == 202, big.text
    request_id = big.json()["request"]["id"]
    assert big.json()["balance"] == "300.00"  # nothing posted yet

    before = await api.count(AdjustmentRequest)
    forbidden = await api.client.post(url, headers=api.as_("bank"),
                                      json={"amount": "-1.00", "reason": "because"})
    assert forbidden.status_code == 403
    assert await api.count(AdjustmentRequest) == before

    own = await api.client.post(f"/api/v1/approvals/{request_id}/approve", headers=api.as_("amy"))
    peer = await api.client.post(f"/api/v1/approvals/{request_id}/approve", headers=api.as_("bob"))
    assert own.status_code == 403 and peer.status_code == 403
    queue = await api.client.get("/api/v1/approvals", headers=api.as_("sue"))
    assert [r["id"] for r in queue.json()] == [request_id]
    approved = await api.client.post(f"/api/v1/approvals/{request_id}/approve",
                                     headers=api.as_("sue"), json={"reason": "checked"})
    assert approved.status_code == 200 and approved.json()["balance"] == "199.99"
    twice = await api.client.post(f"/api/v1/approvals/{request_id}/reject",
                                  headers=api.as_("root"), json={"reason": "late"})
    assert twice.status_code == 409

    for bad in ({"amount": "0", "reason": "zero"}, {"amount": 1.5, "reason": "float"},
                {"amount": "1.00"}):
        assert (await api.client.post(url, headers=api.as_("amy"), json=bad)).status_code == 422
    async with api.runtime.sessions() as session:
        actions = list(await session.scalars(select(AuditEntry.action)))
    assert actions.count("adjustment.post") == 2 and "adjustment.request" in actions


async def test_arrangement_offer_and_creation(api: Api) -> None:
    account_id = await seeded_account(api)
    offer = await api.client.get(f"/api/v1/accounts/{account_id}/arrangement-offer",
                                 headers=api.as_("amy"))
    assert offer.status_code == 200 and offer.json()["eligible"]
    assert offer.json()["total"] == "400.00"
    too_many = await api.client.post(f"/api/v1/accounts/{account_id}/arrangements",
                                     headers=api.as_("amy"), json={"installments": 9})
    assert too_many.status_code == 422
    created = await api.client.post(f"/api/v1/accounts/{account_id}/arrangements",
                                    headers=api.as_("amy"),
                                    json={"installments": offer.json()["max_installments"]})
    assert created.status_code == 201, created.text
    amounts = [i["amount"] for i in created.json()["installments"]]
    assert sum(float(a) for a in amounts) == pytest.approx(400.00)
    refused = await api.client.post(f"/api/v1/accounts/{account_id}/arrangements",
                                    headers=api.as_("amy"), json={"installments": 2})
    assert refused.status_code == 422
    assert refused.json()["error"] == "policy_refused"
    assert "already has an active" in refused.json()["message"]
    assert await api.count(Arrangement) == 1


async def test_not_eligible_is_422_with_the_reason(api: Api) -> None:
    account_id = await seeded_account(api, past_due=None)
    offer = await api.client.get(f"/api/v1/accounts/{account_id}/arrangement-offer",
                                 headers=api.as_("amy"))
    assert offer.json() == {**offer.json(), "eligible": False, "code": "nothing_past_due"}
    refused = await api.client.post(f"/api/v1/accounts/{account_id}/arrangements",
                                    headers=api.as_("amy"), json={"installments": 2})
    assert refused.status_code == 422 and refused.json()["message"] == offer.json()["reason"]
    assert await api.count(Arrangement) == 0


async def test_service_orders_and_deposits(api: Api) -> None:
    account_id = await seeded_account(api, past_due=None)
    premise = await api.client.post("/api/v1/premises", headers=api.as_("amy"), json={
        "address": "77 Canal St", "city": "Riverbend", "state": "LA", "zip": "70130",
        "services": ["electric"]})
    need = await api.client.get(f"/api/v1/accounts/{account_id}/deposit-requirement",
                                headers=api.as_("amy"))
    assert need.json()["required"] == "150.00" and need.json()["basis"] == "estimate"
    started = await api.client.post(f"/api/v1/accounts/{account_id}/service-orders",
                                    headers=api.as_("amy"),
                                    json={"kind": "start", "premise_id": premise.json()["id"],
                                          "start_on": str(today())})
    assert started.status_code == 201, started.text
    order = started.json()[0]
    assert order["details"]["deposit"] == "150.00"
    done = await api.client.post(f"/api/v1/service-orders/{order['id']}/complete",
                                 headers=api.as_("amy"), json={})
    assert done.status_code == 200 and done.json()["status"] == "completed"

    summary = (await api.client.get(f"/api/v1/accounts/{account_id}/summary",
                                    headers=api.as_("amy"))).json()
    deposit_id = summary["deposits"][0]["id"]
    assert summary["balance"] == "150.00"
    assert (await api.client.post(f"/api/v1/deposits/{deposit_id}/waive", headers=api.as_("amy"),
                                  json={"reason": "hardship"})).status_code == 403
    waived = await api.client.post(f"/api/v1/deposits/{deposit_id}/waive",
                                   headers=api.as_("sue"), json={"reason": "hardship"})
    assert waived.json()["status"] == "waived"

    reread = await api.client.post(f"/api/v1/accounts/{account_id}/service-orders",
                                   headers=api.as_("amy"),
                                   json={"kind": "meter_reread",
                                         "premise_id": premise.json()["id"]})
    assert reread.json()[0]["fee"] == "0.00"
    no_answer = await api.client.post(f"/api/v1/service-orders/{reread.json()[0]['id']}/complete",
                                      headers=api.as_("amy"), json={})
    assert no_answer.status_code == 422
    unknown_kind = await api.client.post(f"/api/v1/accounts/{account_id}/service-orders",
                                         headers=api.as_("amy"), json={"kind": "teleport"})
    assert unknown_kind.status_code == 422


async def test_openapi_documents_the_api(api: Api) -> None:
    spec = (await api.client.get("/openapi.json")).json()
    adjust = spec["paths"]["/api/v1/accounts/{account_id}/adjustments"]["post"]
    assert "202" in adjust["responses"] and "403" in adjust["responses"]
    assert "Approval limits" in adjust["description"]


async def test_collections_holds_and_disconnect_list(api: Api) -> None:
    held_id = await seeded_account(api, past_due="900.00")
    async with unit_of_work(api.runtime.sessions) as session:
        _, other = await customer_with_account(session, last_name="Quinn", phone="+15045550190")
        await bill(session, account_id=other.id, issued_on=today() - timedelta(days=40),
                   amount="300.00")
        listed_id = other.id
    step = await api.client.post(f"/api/v1/accounts/{listed_id}/collections/advance",
                                 headers=api.as_("amy"))
    assert step.status_code == 200 and step.json()["stage"] == "late_notice"

    hold = await api.client.post(f"/api/v1/accounts/{held_id}/medical-hold",
                                 headers=api.as_("amy"),
                                 json={"until": str(today() + timedelta(days=30)),
                                       "reason": "certificate"})
    assert hold.json()["disconnect_hold_reason"] == "medical"
    held_step = await api.client.post(f"/api/v1/accounts/{held_id}/collections/advance",
                                      headers=api.as_("amy"))
    assert held_step.json()["hold"] == "medical" and not held_step.json()["changed"]

    filed = await api.client.post(f"/api/v1/accounts/{listed_id}/bankruptcy",
                                  headers=api.as_("sue"),
                                  json={"filed_on": str(today()), "chapter": 7})
    assert filed.json()["adequate_assurance_due_on"] == str(today() + timedelta(days=20))
    bad = await api.client.post(f"/api/v1/accounts/{listed_id}/bankruptcy",
                                headers=api.as_("sue"),
                                json={"filed_on": "yesterday", "chapter": 7})
    assert bad.status_code == 422
    listing = await api.client.get("/api/v1/collections/disconnect-list", headers=api.as_("amy"))
    assert listing.status_code == 200 and listing.json() == []
