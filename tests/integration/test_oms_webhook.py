"""The signed OMS webhook on SQLite and PostgreSQL: signature, replay, idempotency, roll-up."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from outage_factories import OutageApi, outage_api

from core.audit.models import AuditEntry
from core.clock import utcnow
from core.outages.models import Outage, OutageReport

HOOK = "/api/v1/oms/events"
SECRET = "oms-shared-secret-for-tests"


@pytest.fixture
async def api(db_url: str) -> AsyncIterator[OutageApi]:
    async with outage_api(db_url, oms_webhook_secret=SECRET) as started:
        yield started


def signed(body: bytes, *, secret: str = SECRET, at: float | None = None) -> dict[str, str]:
    """Exactly as the contract says: sha256=hex(HMAC-SHA256(secret, "<timestamp>." + body))."""
    timestamp = str(int(time.time() if at is None else at))
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return {"X-Stormdesk-Timestamp": timestamp,
            "X-Stormdesk-Signature": f"sha256={digest.hexdigest()}",
            "Content-Type": "application/json"}


async def deliver(api: OutageApi, events: Any) -> httpx.Response:
    body = json.dumps(events).encode()
    return await api.client.post(HOOK, content=body, headers=signed(body))


def statuses(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [r["status"] for r in response.json()["results"]]


XFMR_A1 = {"kind": "transformer", "code": "XFMR-A1"}
CENTRAL = timezone(timedelta(hours=-5))


async def test_a_signed_batch_runs_an_outage(api: OutageApi) -> None:
    etr = utcnow().replace(microsecond=0) + timedelta(hours=4)
    response = await deliver(api, [
        {"event_id": "oms-1", "type": "confirm", "device": XFMR_A1, "cause": "tree on line"},
        {"event_id": "oms-2", "type": "etr", "device": XFMR_A1,
         "etr": etr.astimezone(CENTRAL).isoformat()},
        {"event_id": "oms-3", "type": "crew", "device": XFMR_A1, "crew": "Line 7"},
        {"event_id": "oms-4", "type": "cause", "device": XFMR_A1, "cause": "squirrel"},
    ])
    assert statuses(response) == ["applied"] * 4
    outage_id = response.json()["results"][0]["outage_id"]
    async with api.runtime.sessions() as session:
        outage = await session.get(Outage, outage_id)
        assert outage is not None
        assert (outage.status, outage.cause, outage.crew, outage.etr, outage.etr_version) == (
            "crew_assigned", "squirrel", "Line 7", etr, 1)
    assert api.bus.topics == ["outage.confirmed", "outage.etr_changed", "outage.crew_assigned",
                              "outage.cause_changed"]
    receipts = await api.audit("oms_event")
    assert [(r.entity_id, r.action, r.actor, r.actor_role) for r in receipts] == [
        ("oms-1", "oms.confirm", "oms", "integration"), ("oms-2", "oms.etr", "oms", "integration"),
        ("oms-3", "oms.crew", "oms", "integration"), ("oms-4", "oms.cause", "oms", "integration")]
    changes = await api.audit("outage")
    assert [c.action for c in changes] == ["outage.confirm", "outage.etr", "outage.crew",
                                           "outage.cause"]
    assert changes[3].before["cause"] == "tree on line"

    # A second transformer (named by our id) merged into the first, then both restored at once.
    a2_device = {"kind": "transformer", "id": api.grid.transformers["A2"]}
    a2 = await deliver(api, [{"event_id": "oms-5", "type": "confirm", "device": a2_device}])
    a2_id = a2.json()["results"][0]["outage_id"]
    finish = await deliver(api, [
        {"event_id": "oms-6", "type": "merge", "outage_id": a2_id, "into_device": XFMR_A1},
        {"event_id": "oms-7", "type": "restore", "outage_id": outage_id,
         "occurred_at": "2031-07-04T18:00:00+00:00"},
    ])
    assert statuses(finish) == ["applied", "applied"]
    async with api.runtime.sessions() as session:
        restored = await session.get(Outage, outage_id)
        child = await session.get(Outage, a2_id)
        assert restored is not None and child is not None
        assert restored.status == child.status == "restored"
        assert child.merged_into_id == outage_id
        assert restored.restored_at == datetime(2031, 7, 4, 18, tzinfo=UTC)
    assert api.bus.topics[-2:] == ["outage.merged", "outage.restored"]


async def test_bad_signatures_are_403_and_write_nothing(api: OutageApi) -> None:
    body = json.dumps([{"event_id": "x-1", "type": "confirm", "device": XFMR_A1}]).encode()
    good = signed(body)
    body_only = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    attempts = {
        "missing": {"Content-Type": "application/json"},
        "no timestamp": {"X-Stormdesk-Signature": good["X-Stormdesk-Signature"]},
        "no signature": {"X-Stormdesk-Timestamp": good["X-Stormdesk-Timestamp"]},
        "wrong secret": signed(body, secret="guessed"),
        "too old": signed(body, at=time.time() - 301),
        "from the future": signed(body, at=time.time() + 302),  # our clock moves on meanwhile
        "timestamp not a number": {**good, "X-Stormdesk-Timestamp": "yesterday"},
        "timestamp swapped": {**good, "X-Stormdesk-Timestamp":
                              str(int(good["X-Stormdesk-Timestamp"]) - 1)},
        "body only signed": {**good, "X-Stormdesk-Signature": f"sha256={body_only}"},
        "other scheme": {**good, "X-Stormdesk-Signature":
                         good["X-Stormdesk-Signature"].replace("sha256=", "sha1=")},
        "non-ascii": {**good, "X-Stormdesk-Signature": "sha256=é".encode("latin-1")},
    }
    for name, headers in attempts.items():
        response = await api.client.post(HOOK, content=body, headers=headers)
        assert response.status_code == 403, name
    huge = b"[" + b" " * 1_000_001 + b"]"
    assert (await api.client.post(HOOK, content=huge, headers=signed(huge))).status_code == 413
    tampered = body.replace(b"XFMR-A1", b"XFMR-A2")
    assert (await api.client.post(HOOK, content=tampered, headers=good)).status_code == 403
    assert await api.count(Outage) == 0
    assert await api.count(AuditEntry) == 0
    assert api.bus.published == []
    # The same body with its genuine headers goes through: the refusals were the signature's.
    assert statuses(await api.client.post(HOOK, content=body, headers=good)) == ["applied"]


async def test_unset_secret_disables_the_webhook(db_url: str) -> None:
    async with outage_api(db_url) as api:
        body = b'[{"event_id": "x", "type": "restore", "outage_id": 1}]'
        response = await api.client.post(HOOK, content=body, headers=signed(body))
        assert response.status_code == 503
        assert "disabled" in response.json()["message"]


async def test_a_replayed_event_is_applied_once(api: OutageApi) -> None:
    assert statuses(await deliver(api, [
        {"event_id": "c-1", "type": "confirm", "device": XFMR_A1}])) == ["applied"]
    first_etr = {"event_id": "e-1", "type": "etr", "device": XFMR_A1,
                 "etr": "2031-07-04T20:00:00-05:00"}
    newer_etr = {"event_id": "e-2", "type": "etr", "device": XFMR_A1,
                 "etr": "2031-07-04T22:00:00-05:00"}
    assert statuses(await deliver(api, [first_etr, newer_etr, first_etr])) == [
        "applied", "applied", "duplicate"]
    # The OMS retries the whole batch (freshly signed): nothing moves the ETR back.
    assert statuses(await deliver(api, [first_etr, newer_etr])) == ["duplicate", "duplicate"]

    # Two deliveries of one event racing each other: one applies it, the other sees it done.
    crew = [{"event_id": "k-1", "type": "crew", "device": XFMR_A1, "crew": "Line 3"}]
    raced = await asyncio.gather(deliver(api, crew), deliver(api, crew))
    assert sorted(statuses(raced[0]) + statuses(raced[1])) == ["applied", "duplicate"]

    listed = (await api.client.get("/api/v1/outages", headers=api.as_("ops"))).json()["items"]
    assert len(listed) == 1
    assert datetime.fromisoformat(listed[0]["etr"]) == datetime(2031, 7, 5, 3, tzinfo=UTC)
    assert listed[0]["etr_version"] == 2 and listed[0]["crew"] == "Line 3"
    assert api.bus.topics.count("outage.etr_changed") == 2
    assert api.bus.topics.count("outage.crew_assigned") == 1
    assert len(await api.audit("oms_event")) == 4


async def test_last_gasps_roll_up_into_a_predicted_transformer(api: OutageApi) -> None:
    meters = api.grid.meters["A1"]
    first = await deliver(api, [{"event_id": "lg-1", "type": "last_gasp",
                                 "meter_number": meters[0]}])
    assert statuses(first) == ["applied"] and first.json()["results"][0]["outage_id"] is None
    second = await deliver(api, [
        {"event_id": "lg-2", "type": "last_gasp", "meter_number": meters[1]},
        {"event_id": "lg-3", "type": "last_gasp", "meter_number": "NO-SUCH-METER"},
        {"event_id": "lg-2", "type": "last_gasp", "meter_number": meters[1]},
    ])
    assert statuses(second) == ["applied", "rejected", "duplicate"]
    rejected = second.json()["results"][1]
    assert rejected["error_status"] == 404 and "NO-SUCH-METER" in rejected["error"]
    outage_id = second.json()["results"][0]["outage_id"]
    async with api.runtime.sessions() as session:
        outage = await session.get(Outage, outage_id)
        assert outage is not None
        assert (outage.device_kind, outage.device_id, outage.status) == (
            "transformer", api.grid.transformers["A1"], "predicted")
    assert await api.count(OutageReport, OutageReport.source == "last_gasp") == 2
    premise = await api.client.get(f"/api/v1/premises/{api.grid.premises['A1'][2]}/outage",
                                   headers=api.as_("amy"))
    assert premise.json()["outage"]["id"] == outage_id
    assert "outage.predicted" in api.bus.topics


async def test_refused_events_do_not_hold_back_the_rest(api: OutageApi) -> None:
    response = await deliver(api, [
        {"event_id": "r-1", "type": "etr", "device": XFMR_A1, "etr": "2031-07-04T20:00:00Z"},
        {"event_id": "r-2", "type": "confirm", "device": {"kind": "feeder", "code": "FDR-Z"}},
        {"event_id": "r-3", "type": "confirm", "device": XFMR_A1, "cause": "wind"},
        {"event_id": "r-4", "type": "cause", "device": XFMR_A1, "cause": "ice",
         "expected_version": 99},
    ])
    assert statuses(response) == ["rejected", "rejected", "applied", "rejected"]
    assert [r["error_status"] for r in response.json()["results"]] == [404, 404, None, 409]
    # A refused event left no receipt, so once its outage exists a retry applies it.
    assert statuses(await deliver(api, [
        {"event_id": "r-1", "type": "etr", "device": XFMR_A1,
         "etr": "2031-07-04T20:00:00Z"}])) == ["applied"]


async def test_malformed_payloads_are_422_with_a_reason(api: OutageApi) -> None:
    cases: list[tuple[Any, str]] = [
        ([{"event_id": "m-1", "type": "etr", "device": XFMR_A1, "etr": "2031-07-04T20:00:00"}],
         "[0].etr"),
        ([{"event_id": "m-2", "type": "explode", "outage_id": 1}], "[0]"),
        ([{"type": "restore", "outage_id": 1}], "[0].event_id"),
        ([{"event_id": "m-3", "type": "restore", "outage_id": 1, "device": XFMR_A1}],
         "outage_id or device"),
        ([{"event_id": "m-4", "type": "etr", "outage_id": 1}], "[0].etr"),
        ([{"event_id": "m-5", "type": "confirm", "device": {"kind": "pole", "id": 1}}],
         "[0].device.kind"),
        ({"event_id": "m-6", "type": "restore", "outage_id": 1}, "array"),
        ([], "at least 1"),
    ]
    for payload, reason in cases:
        response = await deliver(api, payload)
        assert response.status_code == 422, payload
        assert reason in response.json()["message"], response.json()
    broken = b'[{"event_id": "m-7", '
    response = await api.client.post(HOOK, content=broken, headers=signed(broken))
    assert response.status_code == 422 and "JSON" in response.json()["message"]
    assert await api.count(AuditEntry) == 0
    assert api.bus.published == []
