"""Operations confirm an outage through the REST API: its customers' notices are planned in
the same transaction, before the response, by the same request (the outbox)."""

from __future__ import annotations

from sqlalchemy import select

from core.auth.service import create_token
from core.db import unit_of_work
from core.notifications.models import Notice
from core.premises.models import ServicePoint
from tests.bot_helpers import persona, seeded_utility
from tests.integration.bot_flows.test_bot_conversations import _premises


async def test_confirming_by_rest_plans_the_initial_alert_in_the_same_transaction(
        db_url: str) -> None:
    async with seeded_utility(db_url) as harness:
        dana = persona("resident")
        premise = (await _premises(harness, dana.account_number))[0]
        async with unit_of_work(harness.runtime.sessions) as session:
            _, token = await create_token(session, name="oms-desk", role="operations")
            transformer_id = await session.scalar(select(ServicePoint.transformer_id).where(
                ServicePoint.premise_id == premise.id, ServicePoint.transformer_id.is_not(None)))
        assert await harness.count(Notice) == 0
        response = await harness.client.post(
            "/api/v1/outages/confirm", headers={"Authorization": f"Bearer {token}"},
            json={"device": {"kind": "transformer", "id": transformer_id}, "cause": "tree"})
        assert response.status_code in (200, 201), response.text
        outage_id = response.json()["id"]
        async with harness.runtime.sessions() as session:
            notices = list(await session.scalars(select(Notice).where(
                Notice.outage_id == outage_id)))
        assert notices and all(n.kind == "initial" for n in notices)
        assert dana.phone in {n.address for n in notices}
        assert len({n.address for n in notices}) == len(notices)  # once per address
