"""The outage REST API end to end on SQLite and PostgreSQL: roles, versions, audit, events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from outage_factories import OutageApi, outage_api
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import utcnow
from core.outages.models import Outage, OutageReport

OUTAGES = "/api/v1/outages"


@pytest.fixture
async def api(db_url: str) -> AsyncIterator[OutageApi]:
    async with outage_api(db_url) as started:
        yield started


def later(hours: float) -> str:
    return (utcnow() + timedelta(hours=hours)).isoformat()


async def confirm_transformer(api: OutageApi, code: str = "A1", **body: Any) -> dict[str, Any]:
    response = await api.client.post(f"{OUTAGES}/confirm", headers=api.as_("ops"),
                                     json={"device": {"kind": "transformer",
                                                      "code": f"XFMR-{code}"}, **body})
    assert response.status_code == 200, response.text
    return response.json()


async def test_tokens_and_roles(api: OutageApi) -> None:
    outage = await confirm_transformer(api)
    oid = outage["id"]
    premise = api.grid.premises["A1"][0]
    anonymous = [("GET", OUTAGES, None), ("GET", f"{OUTAGES}/{oid}", None),
                 ("GET", f"/api/v1/premises/{premise}/outage", None),
                 ("POST", f"{OUTAGES}/reports", {"premise_id": premise}),
                 ("POST", f"{OUTAGES}/{oid}/restore", None)]
    for method, path, body in anonymous:
        response = await api.client.request(method, path, json=body)
        assert response.status_code == 401, path
    bogus = {"Authorization": "Bearer sdk_not-a-token"}
    assert (await api.client.get(OUTAGES, headers=bogus)).status_code == 401

    writes = [("POST", f"{OUTAGES}/confirm", {"outage_id": oid}),
              ("POST", f"{OUTAGES}/{oid}/confirm", None),
              ("PUT", f"{OUTAGES}/{oid}/etr", {"etr": later(3)}),
              ("POST", f"{OUTAGES}/{oid}/crew", {"crew": "Line 7"}),
              ("PUT", f"{OUTAGES}/{oid}/cause", {"cause": "tree"}),
              ("POST", f"{OUTAGES}/{oid}/restore", None),
              ("POST", f"{OUTAGES}/merge", {"child_id": oid, "parent_id": oid})]
    for who in ("amy", "ivr"):
        for method, path, body in writes:
            response = await api.client.request(method, path, json=body, headers=api.as_(who))
            assert response.status_code == 403, (who, path)
    assert len(await api.audit("outage")) == 1  # the confirm above, nothing since

    for who in ("amy", "ivr", "sue", "ops", "root"):
        assert (await api.client.get(f"{OUTAGES}/{oid}", headers=api.as_(who))).status_code == 200
    crew = await api.client.put(f"{OUTAGES}/{oid}/crew", headers=api.as_("sue"),
                                json={"crew": "Line 7"})
    assert crew.status_code == 200 and crew.json()["status"] == "crew_assigned"
    cause = await api.client.put(f"{OUTAGES}/{oid}/cause", headers=api.as_("root"),
                                 json={"cause": "squirrel"})
    assert cause.status_code == 200 and cause.json()["cause"] == "squirrel"


async def test_reports_roll_up_and_show_on_the_premise(api: OutageApi) -> None:
    first, second, third = api.grid.premises["A1"]
    filed = await api.client.post(f"{OUTAGES}/reports", headers=api.as_("amy"),
                                  json={"premise_id": first, "hazard": "wire down"})
    assert filed.status_code == 201, filed.text
    assert filed.json()["created"] and filed.json()["report"]["source"] == "agent"
    assert filed.json()["outage"] is None

    again = await api.client.post(f"{OUTAGES}/reports", headers=api.as_("ivr"),
                                  json={"premise_id": first})
    assert again.status_code == 200 and not again.json()["created"]
    assert again.json()["report"]["id"] == filed.json()["report"]["id"]

    # A smart meter's last gasp, by meter number: the second report under A1 predicts it.
    gasp = await api.client.post(f"{OUTAGES}/reports", headers=api.as_("ivr"),
                                 json={"meter_number": api.grid.meters["A1"][1]})
    assert gasp.status_code == 201, gasp.text
    body = gasp.json()
    assert body["report"]["source"] == "last_gasp" and body["report"]["premise_id"] == second
    assert body["outage"]["device_kind"] == "transformer"
    assert body["outage"]["device_id"] == api.grid.transformers["A1"]
    assert body["outage"]["status"] == "predicted" and body["outage"]["customers_affected"] == 3
    assert api.bus.topics == ["outage.reported", "outage.reported", "outage.predicted"]

    covered = await api.client.get(f"/api/v1/premises/{third}/outage", headers=api.as_("amy"))
    assert covered.status_code == 200
    assert covered.json()["outage"]["id"] == body["outage"]["id"]
    assert covered.json()["report"] is None
    mine = (await api.client.get(f"/api/v1/premises/{first}/outage",
                                 headers=api.as_("amy"))).json()
    assert mine["report"]["hazard"] == "wire down"
    assert mine["report"]["outage_id"] == body["outage"]["id"]
    elsewhere = (await api.client.get(f"/api/v1/premises/{api.grid.premises['B1'][0]}/outage",
                                      headers=api.as_("amy"))).json()
    assert elsewhere["outage"] is None and elsewhere["report"] is None

    audit = await api.audit("outage_report")
    assert [(a.actor, a.action, a.after["source"]) for a in audit] == [
        ("token:amy", "outage.report", "agent"), ("token:ivr", "outage.report", "last_gasp")]


async def test_bad_reports(api: OutageApi) -> None:
    for body, expected in (({"premise_id": 999999}, 404), ({"meter_number": "NO-SUCH"}, 404),
                           ({"premise_id": api.grid.premises["A1"][0], "contact_id": 999999}, 404),
                           ({"premise_id": api.grid.premises["A1"][0],
                             "meter_number": api.grid.meters["A1"][0]}, 422),
                           ({}, 422), ({"premise_id": api.grid.premises["A1"][0],
                                        "at": "2026-07-04T18:00:00"}, 422)):
        response = await api.client.post(f"{OUTAGES}/reports", headers=api.as_("amy"), json=body)
        assert response.status_code == expected, (body, response.text)
    assert await api.count(OutageReport) == 0
    assert api.bus.published == []


async def test_operations_run_an_outage_with_versions_audit_and_events(api: OutageApi) -> None:
    await api.client.post(f"{OUTAGES}/reports", headers=api.as_("amy"),
                          json={"premise_id": api.grid.premises["A1"][0]})
    api.bus.published.clear()
    confirmed = await api.client.post(f"{OUTAGES}/confirm", headers=api.as_("ops"), json={
        "device": {"kind": "transformer", "id": api.grid.transformers["A1"]},
        "cause": "tree on line"})
    assert confirmed.status_code == 200, confirmed.text
    outage = confirmed.json()
    oid = outage["id"]
    assert (outage["status"], outage["cause"], outage["customers_affected"]) == (
        "confirmed", "tree on line", 3)
    assert confirmed.headers["etag"] == f'"{outage["version"]}"'
    assert api.bus.topics == ["outage.confirmed"]

    etr = datetime(2031, 7, 4, 23, 30, tzinfo=UTC)
    moved = await api.client.put(f"{OUTAGES}/{oid}/etr", json={"etr": "2031-07-04T18:30:00-05:00"},
                                 headers={**api.as_("ops"), "If-Match": confirmed.headers["etag"]})
    assert moved.status_code == 200, moved.text
    assert datetime.fromisoformat(moved.json()["etr"]) == etr
    assert moved.json()["etr_version"] == 1 and moved.json()["version"] > outage["version"]

    crew = await api.client.post(f"{OUTAGES}/{oid}/crew", headers=api.as_("ops"),
                                 json={"crew": "Line 7", "expected_version":
                                       moved.json()["version"]})
    assert crew.status_code == 200 and crew.json()["status"] == "crew_assigned"
    cause = await api.client.post(f"{OUTAGES}/{oid}/cause", headers=api.as_("ops"),
                                  json={"cause": "squirrel"})
    assert cause.json()["cause"] == "squirrel"
    restored = await api.client.post(f"{OUTAGES}/{oid}/restore", headers=api.as_("ops"),
                                     json={"expected_version": cause.json()["version"]})
    assert restored.status_code == 200 and restored.json()["status"] == "restored"
    assert api.bus.topics == ["outage.confirmed", "outage.etr_changed", "outage.crew_assigned",
                              "outage.cause_changed", "outage.restored"]
    etr_event = api.bus.published[1][1]
    assert etr_event["outage_id"] == oid and etr_event["etr_version"] == 1

    fetched = await api.client.get(f"{OUTAGES}/{oid}", headers=api.as_("amy"))
    assert fetched.json()["status"] == "restored"
    assert fetched.headers["etag"] == f'"{restored.json()["version"]}"'
    premise = await api.client.get(f"/api/v1/premises/{api.grid.premises['A1'][0]}/outage",
                                   headers=api.as_("amy"))
    assert premise.json() == {"premise_id": api.grid.premises["A1"][0], "outage": None,
                              "report": None}

    audit = await api.audit("outage")
    assert [a.action for a in audit] == ["outage.confirm", "outage.etr", "outage.crew",
                                         "outage.cause", "outage.restore"]
    assert {a.actor for a in audit} == {"token:ops"}
    assert audit[0].before is None and audit[0].after["status"] == "confirmed"
    assert audit[1].before["etr"] is None
    assert datetime.fromisoformat(audit[1].after["etr"]) == etr
    assert audit[3].before["cause"] == "tree on line" and audit[3].after["cause"] == "squirrel"

    again = await api.client.post(f"{OUTAGES}/{oid}/restore", headers=api.as_("ops"))
    assert again.status_code == 409


async def test_stale_version_is_409_and_changes_nothing(api: OutageApi) -> None:
    outage = await confirm_transformer(api)
    oid, version = outage["id"], outage["version"]
    fresh = await api.client.put(f"{OUTAGES}/{oid}/cause", headers=api.as_("ops"),
                                 json={"cause": "lightning", "expected_version": version})
    assert fresh.status_code == 200
    api.bus.published.clear()
    audited = len(await api.audit("outage"))

    stale = [("PUT", f"{OUTAGES}/{oid}/etr", {"etr": later(2), "expected_version": version}, {}),
             ("POST", f"{OUTAGES}/{oid}/crew", {"crew": "Line 2"}, {"If-Match": f'"{version}"'}),
             ("PUT", f"{OUTAGES}/{oid}/cause", {"cause": "tree"}, {"If-Match": f'W/"{version}"'}),
             ("POST", f"{OUTAGES}/{oid}/restore", None, {"If-Match": str(version)}),
             ("POST", f"{OUTAGES}/{oid}/confirm", {"cause": "x", "expected_version": version}, {}),
             ("POST", f"{OUTAGES}/confirm",
              {"device": {"kind": "transformer", "code": "XFMR-A1"}, "cause": "x",
               "expected_version": version}, {})]
    for method, path, body, headers in stale:
        response = await api.client.request(method, path, json=body,
                                            headers={**api.as_("ops"), **headers})
        assert response.status_code == 409, (path, response.text)
        assert response.json()["detail"]["version"] == fresh.json()["version"]

    disagree = await api.client.put(f"{OUTAGES}/{oid}/etr", json={"etr": later(2),
                                                                 "expected_version": version},
                                    headers={**api.as_("ops"), "If-Match": '"77"'})
    assert disagree.status_code == 422
    current = (await api.client.get(f"{OUTAGES}/{oid}", headers=api.as_("ops"))).json()
    assert current == fresh.json()
    assert len(await api.audit("outage")) == audited
    assert api.bus.published == []


async def test_bad_etr_is_422(api: OutageApi) -> None:
    oid = (await confirm_transformer(api))["id"]
    api.bus.published.clear()
    for etr in ("2031-07-04T18:30:00", "tomorrow", "2000-01-01T00:00:00Z"):
        response = await api.client.put(f"{OUTAGES}/{oid}/etr", headers=api.as_("ops"),
                                        json={"etr": etr})
        assert response.status_code == 422, (etr, response.text)
    missing = await api.client.put(f"{OUTAGES}/{oid}/etr", headers=api.as_("ops"), json={})
    assert missing.status_code == 422
    current = (await api.client.get(f"{OUTAGES}/{oid}", headers=api.as_("ops"))).json()
    assert current["etr"] is None and current["etr_version"] == 0
    assert api.bus.published == []
    cleared = await api.client.put(f"{OUTAGES}/{oid}/etr", headers=api.as_("ops"),
                                   json={"etr": None})
    assert cleared.status_code == 200 and api.bus.published == []  # no change, no event


async def test_unknown_ids_are_404(api: OutageApi) -> None:
    oid = (await confirm_transformer(api))["id"]
    ops = api.as_("ops")
    for method, path, body in (
        ("GET", f"{OUTAGES}/999999", None),
        ("PUT", f"{OUTAGES}/999999/etr", {"etr": later(1)}),
        ("POST", f"{OUTAGES}/999999/crew", {"crew": "Line 1"}),
        ("PUT", f"{OUTAGES}/999999/cause", {"cause": "tree"}),
        ("POST", f"{OUTAGES}/999999/restore", None),
        ("POST", f"{OUTAGES}/999999/confirm", None),
        ("POST", f"{OUTAGES}/confirm", {"outage_id": 999999}),
        ("POST", f"{OUTAGES}/confirm", {"device": {"kind": "feeder", "code": "FDR-Z"}}),
        ("POST", f"{OUTAGES}/confirm", {"device": {"kind": "substation", "id": 999999}}),
        ("POST", f"{OUTAGES}/merge", {"child_id": 999999, "parent_id": oid}),
        ("GET", "/api/v1/premises/999999/outage", None),
    ):
        response = await api.client.request(method, path, json=body, headers=ops)
        assert response.status_code == 404, (path, response.text)
    assert await api.count(Outage) == 1
    bad = await api.client.post(f"{OUTAGES}/confirm", headers=ops, json={
        "device": {"kind": "feeder", "id": 1, "code": "FDR-A"}})
    assert bad.status_code == 422


async def test_merge_and_list(api: OutageApi) -> None:
    a1 = await confirm_transformer(api, "A1")
    a2 = await confirm_transformer(api, "A2")
    feeder = await api.client.post(f"{OUTAGES}/confirm", headers=api.as_("ops"),
                                   json={"device": {"kind": "feeder", "code": "FDR-B"}})
    assert feeder.json()["customers_affected"] == 2
    ops = api.as_("ops")

    stale = await api.client.post(f"{OUTAGES}/merge", headers=ops, json={
        "child_id": a2["id"], "parent_id": a1["id"], "child_version": a2["version"] + 5})
    assert stale.status_code == 409
    merged = await api.client.post(f"{OUTAGES}/merge", headers=ops, json={
        "child_id": a2["id"], "parent_id": a1["id"], "child_version": a2["version"],
        "parent_version": a1["version"]})
    assert merged.status_code == 200, merged.text
    assert merged.json()["id"] == a1["id"] and merged.json()["customers_affected"] == 6
    assert api.bus.topics[-1] == "outage.merged"
    audit = (await api.audit("outage"))[-1]
    assert audit.action == "outage.merge" and audit.after["child"]["merged_into_id"] == a1["id"]
    assert (await api.client.put(f"{OUTAGES}/{a2['id']}/etr", headers=ops,
                                 json={"etr": later(1)})).status_code == 409

    listed = (await api.client.get(OUTAGES, headers=api.as_("amy"))).json()
    assert [o["id"] for o in listed["items"]] == [feeder.json()["id"], a1["id"]]
    assert (listed["total"], listed["customers_affected"]) == (2, 8)
    with_merged = (await api.client.get(f"{OUTAGES}?include_merged=true",
                                        headers=api.as_("amy"))).json()
    assert with_merged["total"] == 3

    by_kind = (await api.client.get(f"{OUTAGES}?device_kind=feeder", headers=ops)).json()
    assert [o["device_kind"] for o in by_kind["items"]] == ["feeder"]
    worst = (await api.client.get(f"{OUTAGES}?order=customers&limit=1", headers=ops)).json()
    assert [o["id"] for o in worst["items"]] == [a1["id"]] and worst["total"] == 2
    page_two = (await api.client.get(f"{OUTAGES}?limit=1&offset=1", headers=ops)).json()
    assert [o["id"] for o in page_two["items"]] == [a1["id"]]

    await api.client.post(f"{OUTAGES}/{feeder.json()['id']}/restore", headers=ops)
    live = (await api.client.get(OUTAGES, headers=ops)).json()
    assert [o["id"] for o in live["items"]] == [a1["id"]]
    done = (await api.client.get(f"{OUTAGES}?status=restored", headers=ops)).json()
    assert [o["id"] for o in done["items"]] == [feeder.json()["id"]]
    both = (await api.client.get(f"{OUTAGES}?status=restored&status=confirmed",
                                 headers=ops)).json()
    assert both["total"] == 2
    assert (await api.client.get(f"{OUTAGES}?status=gone", headers=ops)).status_code == 422
    assert (await api.client.get(f"{OUTAGES}?limit=0", headers=ops)).status_code == 422


async def test_a_failed_commit_publishes_nothing(
    api: OutageApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def commit_fails(_session: AsyncSession) -> None:
        raise OperationalError("COMMIT", {}, Exception("database went away"))

    await api.client.post(f"{OUTAGES}/reports", headers=api.as_("amy"),
                          json={"premise_id": api.grid.premises["A1"][0]})
    api.bus.published.clear()
    with monkeypatch.context() as patched:
        patched.setattr(AsyncSession, "commit", commit_fails)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(
                app=api.app, raise_app_exceptions=False), base_url="http://test") as client:
            for path in (f"{OUTAGES}/confirm", f"{OUTAGES}/reports"):
                body = ({"device": {"kind": "transformer", "code": "XFMR-A1"}} if "confirm" in path
                        else {"premise_id": api.grid.premises["A1"][1]})
                response = await client.post(path, headers=api.as_("ops"), json=body)
                # A database that went away is a reason to retry, not a bug: 503 + Retry-After.
                assert response.status_code == 503, path
                assert response.headers["retry-after"] == "5", path
    assert await api.count(Outage) == 0
    assert await api.count(OutageReport) == 1
    assert api.bus.published == []
    # The retry goes through, and only its own events are announced.
    again = await api.client.post(f"{OUTAGES}/reports", headers=api.as_("amy"),
                                  json={"premise_id": api.grid.premises["A1"][1]})
    assert again.status_code == 201 and again.json()["outage"]["status"] == "predicted"
    assert api.bus.topics == ["outage.reported", "outage.predicted"]
