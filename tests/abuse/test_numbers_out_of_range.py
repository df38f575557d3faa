"""Ids and amounts past what the database column holds are the caller's error (422), on both
databases: SQLite's driver and PostgreSQL's refuse them differently, neither may become a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.messaging_helpers import STATUS_PATH, Harness, post_signed, sid, status_payload

from .kit import Callers, abuse_app, make_callers

HUGE = str(2**63)  # one past the largest BIGINT


@pytest.fixture
async def app(db_url: str, tmp_path: Path) -> AsyncIterator[tuple[Harness, Callers]]:
    async with abuse_app(db_url, tmp_path / "mail", seeded=False) as harness:
        yield harness, await make_callers(harness)


async def test_ids_past_64_bits_are_422(app) -> None:
    harness, callers = app
    for method, path, headers, body in (
            ("GET", f"/api/v1/customers/{HUGE}", callers.admin, None),
            ("GET", f"/api/v1/accounts/{HUGE}/summary", callers.admin, None),
            ("POST", f"/api/v1/accounts/{HUGE}/payments", callers.admin,
             {"amount": "1.00", "method": "cash"}),
            ("GET", f"/api/v1/agent/conversations/{HUGE}", callers.sue, None),
            ("POST", f"/api/v1/agent/accounts/{HUGE}/notes", callers.sue, {"body": "x"}),
            ("PATCH", f"/api/v1/supervisor/agents/{HUGE}", callers.sue, {})):
        response = await harness.client.request(method, path, headers=headers, json=body)
        assert response.status_code == 422, (method, path, response.text)
        assert response.json()["error"] == "invalid"


async def test_a_status_callback_for_a_message_id_past_64_bits_is_not_a_500(app) -> None:
    harness, _ = app
    response = await post_signed(harness.client, f"{STATUS_PATH}?m={HUGE}", status_payload(
        message_sid=sid(), status="delivered", to="+15045550123"))
    assert response.status_code in (200, 422), response.text


async def test_amounts_past_the_ledgers_range_are_422(app) -> None:
    harness, callers = app
    for amount in ("1e30", "1" + "0" * 30, "92233720368547758.08", "100000000.00", "1e-30"):
        response = await harness.client.post("/api/v1/accounts/1/payments", headers=callers.admin,
                                             json={"amount": amount, "method": "cash"})
        assert response.status_code == 422, (amount, response.text)
