"""Refusals: an agent reaching for a conversation or an account they have no business with, or
for a supervisor's action — over REST and the websocket — is refused, changes nothing, and
leaves an audit row naming who, what and which."""

from __future__ import annotations

from accountcore_factories import customer_with_account
from console_kit import WsAgent, console, served
from sqlalchemy import func, select

from core.adjustments.models import AdjustmentRequest
from core.agents.models import Offer
from core.audit.models import AuditEntry
from core.db import unit_of_work


async def _denials(c) -> list[tuple[str, str, str, str | None]]:
    async with c.runtime.sessions() as session:
        rows = await session.execute(
            select(AuditEntry.actor, AuditEntry.action, AuditEntry.entity, AuditEntry.entity_id)
            .where(AuditEntry.action.startswith("denied:")).order_by(AuditEntry.id))
        return [tuple(r) for r in rows]


async def _held_by_amy(c) -> tuple[int, int, int]:
    """Amy holds a conversation with customer A; customer B's account is nobody's business."""
    async with unit_of_work(c.runtime.sessions) as session:
        customer_a, account_a = await customer_with_account(session, phone="+15045550101")
        _, account_b = await customer_with_account(session, phone="+15045550199",
                                                   last_name="Boudreaux")
    await c.agent("amy")
    await c.login("amy")
    conversation = await c.queued(phone="+15045550101", customer_id=customer_a.id)
    await c.route()
    async with c.runtime.sessions() as session:
        offer = (await session.scalars(select(Offer))).one()
    await c.http.post(f"/api/v1/agent/offers/{offer.id}/accept", headers=c.auth("amy"))
    return conversation, account_a.id, account_b.id


async def test_agent_cannot_read_or_act_on_what_is_not_theirs(db_url) -> None:
    async with console(db_url) as c:
        conversation, own_account, other_account = await _held_by_amy(c)
        await c.agent("bob")
        await c.login("bob")
        other_conversation = await c.queued(phone="+15045550199")

        assert (await c.http.get(f"/api/v1/agent/accounts/{own_account}",
                                 headers=c.auth("amy"))).status_code == 200
        refused = [
            await c.http.get(f"/api/v1/agent/conversations/{other_conversation}",
                             headers=c.auth("amy")),
            await c.http.get(f"/api/v1/agent/accounts/{other_account}", headers=c.auth("amy")),
            await c.http.post(f"/api/v1/agent/accounts/{other_account}/adjustments",
                              json={"amount": "-10.00", "reason": "goodwill"},
                              headers=c.auth("amy")),
            await c.http.get(f"/api/v1/agent/conversations/{conversation}",
                             headers=c.auth("bob")),
            await c.http.post(f"/api/v1/agent/conversations/{conversation}/messages",
                              json={"text": "hi from bob"}, headers=c.auth("bob")),
            await c.http.get(f"/api/v1/agent/accounts/{own_account}", headers=c.auth("bob")),
            await c.http.get("/api/v1/supervisor/approvals", headers=c.auth("amy")),
        ]
        assert [r.status_code for r in refused] == [403] * len(refused)
        async with c.runtime.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(AdjustmentRequest)) == 0
        assert await _denials(c) == [
            ("agent:amy", "denied:read_conversation", "conversation", str(other_conversation)),
            ("agent:amy", "denied:read_account", "account", str(other_account)),
            ("agent:amy", "denied:post_adjustment", "account", str(other_account)),
            ("agent:bob", "denied:read_conversation", "conversation", str(conversation)),
            ("agent:bob", "denied:send_message", "conversation", str(conversation)),
            ("agent:bob", "denied:read_account", "account", str(own_account)),
            ("agent:amy", "denied:GET /api/v1/supervisor/approvals", "supervisor_action", None),
        ]


async def test_websocket_commands_are_checked_the_same_way(db_url) -> None:
    async with console(db_url) as c, served(c.app) as host:
        conversation, _, _ = await _held_by_amy(c)
        await c.agent("bob")
        bob = await WsAgent.connect(host, await c.login("bob"))
        for kind, fields in [
            ("message.send", {"conversation_id": conversation, "text": "hello"}),
            ("wrap_up.complete", {"conversation_id": conversation, "disposition": "resolved"}),
            ("monitor.start", {"conversation_id": conversation}),
            ("storm.set", {"on": True}),
        ]:
            answer = await bob.command(kind, **fields)
            assert (answer["type"], answer["error"]) == ("error", "forbidden"), answer
        await bob.close()
        assert [(actor, action) for actor, action, _, _ in await _denials(c)] == [
            ("agent:bob", "denied:send_message"),
            ("agent:bob", "denied:wrap_up"),
            ("agent:bob", "denied:monitor"),
            ("agent:bob", "denied:storm_switch"),
        ]
