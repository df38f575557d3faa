"""Routing: skill queues with priority, longest-idle offers, decline and lapse, capacity,
transfer, wrap-up, hand-back, SLA breaches, queue position, callbacks."""

from __future__ import annotations

from datetime import timedelta

from console_kit import console
from sqlalchemy import select, update

from core.agents.models import Agent, Assignment, ConsoleEvent, Offer, QueueEntry
from core.audit.models import AuditEntry
from core.clock import utcnow
from core.conversations.models import Conversation, Message


async def _offers(c, conversation_id: int) -> list[Offer]:
    async with c.runtime.sessions() as session:
        return list(await session.scalars(select(Offer).where(
            Offer.conversation_id == conversation_id).order_by(Offer.id)))


async def _pending(c, conversation_id: int) -> Offer:
    found = [o for o in await _offers(c, conversation_id) if o.outcome == "pending"]
    assert len(found) == 1, found
    return found[0]


async def _events(c, kind: str) -> list[ConsoleEvent]:
    async with c.runtime.sessions() as session:
        return list(await session.scalars(select(ConsoleEvent).where(ConsoleEvent.kind == kind)
                                          .order_by(ConsoleEvent.id)))


async def _conversation(c, conversation_id: int) -> Conversation:
    async with c.runtime.sessions() as session:
        found = await session.get(Conversation, conversation_id)
        assert found is not None
        return found


async def test_longest_idle_eligible_agent_gets_the_offer_and_only_they_may_accept(db_url) -> None:
    now = utcnow()
    async with console(db_url) as c:
        amy = await c.agent("amy", idle_since=now - timedelta(minutes=10))
        bob = await c.agent("bob", idle_since=now - timedelta(minutes=30))
        await c.agent("cal", skills=("outage",), idle_since=now - timedelta(minutes=60))
        await c.agent("dee", presence="away", idle_since=now - timedelta(minutes=90))
        for name in ("amy", "bob"):
            await c.login(name)
        conversation_id = await c.queued(phone="+15045550101", skill="billing")
        await c.route()
        offer = await _pending(c, conversation_id)
        assert offer.agent_id == bob.id
        [event] = [e for e in await _events(c, "offer.new")]
        assert event.audience == f"agent:{bob.id}"
        assert event.payload["conversation"]["handoff"]["summary"]["intent"] == "talk_to_agent"

        stolen = await c.http.post(f"/api/v1/agent/offers/{offer.id}/accept",
                                   headers=c.auth("amy"))
        assert stolen.status_code == 403
        accepted = await c.http.post(f"/api/v1/agent/offers/{offer.id}/accept",
                                     headers=c.auth("bob"))
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["state"] == "active"
        again = await c.http.post(f"/api/v1/agent/offers/{offer.id}/accept",
                                  headers=c.auth("bob"))
        assert again.status_code == 409

        conversation = await _conversation(c, conversation_id)
        assert conversation.owner == "agent" and conversation.agent_id == str(bob.id)
        async with c.runtime.sessions() as session:
            audit = (await session.scalars(select(AuditEntry).where(
                AuditEntry.action == "denied:accept_offer"))).one()
            entry = (await session.scalars(select(QueueEntry))).one()
        assert audit.actor == "agent:amy" and audit.entity_id == str(offer.id)
        assert entry.state == "assigned" and entry.live_key is None
        assert amy.id != bob.id


async def test_emergencies_are_served_first(db_url) -> None:
    async with console(db_url) as c:
        # Away until both wait: else the background loop may offer the billing case the
        # moment it is queued, before the emergency exists (amy has room for one).
        amy = await c.agent("amy", skills=("billing", "emergency"), capacity={"sms": 1},
                            presence="away")
        billing = await c.queued(phone="+15045550101", skill="billing")
        emergency = await c.queued(phone="+15045550102", skill="emergency")
        async with c.runtime.sessions() as session, session.begin():
            await session.execute(update(Agent).where(Agent.id == amy.id)
                                  .values(presence="available"))
        await c.route()
        assert [o.outcome for o in await _offers(c, emergency)] == ["pending"]
        assert await _offers(c, billing) == []


async def test_declined_or_lapsed_offers_go_to_the_next_agent(db_url) -> None:
    now = utcnow()
    async with console(db_url) as c:
        amy = await c.agent("amy", idle_since=now - timedelta(minutes=10))
        bob = await c.agent("bob", idle_since=now - timedelta(minutes=30))
        await c.login("bob")
        conversation_id = await c.queued(phone="+15045550101")
        await c.route()
        first = await _pending(c, conversation_id)
        assert first.agent_id == bob.id
        declined = await c.http.post(f"/api/v1/agent/offers/{first.id}/decline",
                                     headers=c.auth("bob"))
        assert declined.status_code == 200
        await c.route()
        second = await _pending(c, conversation_id)
        assert second.agent_id == amy.id

        # Amy lets it lapse: the offer times out, she is marked away, and it goes back to Bob.
        async with c.runtime.sessions() as session:
            await session.execute(update(Offer).where(Offer.id == second.id)
                                  .values(expires_at=utcnow() - timedelta(seconds=1)))
            await session.commit()
        await c.route()
        outcomes = [(o.agent_id, o.outcome) for o in await _offers(c, conversation_id)]
        assert outcomes == [(bob.id, "declined"), (amy.id, "timed_out"), (bob.id, "pending")]
        async with c.runtime.sessions() as session:
            assert (await session.get(Agent, amy.id)).presence == "away"
        assert [e.audience for e in await _events(c, "offer.expired")] == [f"agent:{amy.id}"]


async def test_capacity_per_channel_limits_offers_until_a_wrap_up_frees_it(db_url) -> None:
    async with console(db_url) as c:
        amy = await c.agent("amy", capacity={"sms": 1})
        await c.login("amy")
        first = await c.queued(phone="+15045550101")
        second = await c.queued(phone="+15045550102")
        await c.route()
        offer = await _pending(c, first)
        assert await _offers(c, second) == []
        await c.http.post(f"/api/v1/agent/offers/{offer.id}/accept", headers=c.auth("amy"))
        await c.route()
        assert await _offers(c, second) == []

        bad = await c.http.post(f"/api/v1/agent/conversations/{first}/wrap-up/complete",
                                json={"disposition": "no-such-code"}, headers=c.auth("amy"))
        assert bad.status_code == 422
        done = await c.http.post(f"/api/v1/agent/conversations/{first}/wrap-up/complete",
                                 json={"disposition": "resolved", "notes": "explained the bill"},
                                 headers=c.auth("amy"))
        assert done.status_code == 200, done.text
        assert done.json()["disposition"] == "resolved"
        assert (await _conversation(c, first)).owner == "closed"
        await c.route()
        assert (await _pending(c, second)).agent_id == amy.id


async def test_transfer_to_a_queue_and_to_a_named_agent_with_a_note(db_url) -> None:
    now = utcnow()
    async with console(db_url) as c:
        amy = await c.agent("amy", skills=("billing",), idle_since=now - timedelta(minutes=50))
        bob = await c.agent("bob", skills=("collections",), idle_since=now)
        cal = await c.agent("cal", skills=("billing",), idle_since=now - timedelta(minutes=5))
        for name in ("amy", "bob", "cal"):
            await c.login(name)
        conversation_id = await c.queued(phone="+15045550101")
        await c.route()
        offer = await _pending(c, conversation_id)
        assert offer.agent_id == amy.id
        await c.http.post(f"/api/v1/agent/offers/{offer.id}/accept", headers=c.auth("amy"))

        moved = await c.http.post(f"/api/v1/agent/conversations/{conversation_id}/transfer",
                                  json={"to_queue": "collections", "note": "wants a plan"},
                                  headers=c.auth("amy"))
        assert moved.status_code == 200, moved.text
        assert (await _conversation(c, conversation_id)).owner == "queued"
        await c.route()
        to_bob = await _pending(c, conversation_id)
        assert to_bob.agent_id == bob.id
        [new_offer] = [e for e in await _events(c, "offer.new") if e.payload["offer_id"]
                       == to_bob.id]
        assert new_offer.payload["entry"]["transfer_note"] == "wants a plan"
        assert new_offer.payload["entry"]["skill"] == "collections"
        await c.http.post(f"/api/v1/agent/offers/{to_bob.id}/accept", headers=c.auth("bob"))

        # Amy no longer holds it: she can neither read nor act on it.
        gone = await c.http.get(f"/api/v1/agent/conversations/{conversation_id}",
                                headers=c.auth("amy"))
        assert gone.status_code == 403

        named = await c.http.post(f"/api/v1/agent/conversations/{conversation_id}/transfer",
                                  json={"to_agent_id": cal.id, "note": "back to billing"},
                                  headers=c.auth("bob"))
        assert named.status_code == 200
        await c.route()
        assert (await _pending(c, conversation_id)).agent_id == cal.id
        detail = await c.http.get(f"/api/v1/agent/conversations/{conversation_id}",
                                  headers=c.auth("cal"))
        assert [n["body"] for n in detail.json()["notes"]] == [
            "Transfer: wants a plan", "Transfer: back to billing"]


async def test_wrap_up_timer_closes_the_conversation_by_itself(db_url) -> None:
    async with console(db_url, wrap_up_s=60) as c:
        await c.agent("amy")
        await c.login("amy")
        conversation_id = await c.queued(phone="+15045550101")
        await c.route()
        offer = await _pending(c, conversation_id)
        await c.http.post(f"/api/v1/agent/offers/{offer.id}/accept", headers=c.auth("amy"))
        started = await c.http.post(f"/api/v1/agent/conversations/{conversation_id}/wrap-up",
                                    headers=c.auth("amy"))
        assert started.json()["state"] == "wrap_up"
        assert (await _conversation(c, conversation_id)).owner == "wrap_up"
        async with c.runtime.sessions() as session:
            await session.execute(update(Assignment).values(
                wrap_up_due=utcnow() - timedelta(seconds=1)))
            await session.commit()
        await c.route()
        async with c.runtime.sessions() as session:
            assignment = (await session.scalars(select(Assignment))).one()
        assert assignment.state == "done" and assignment.disposition == "wrap_up_expired"
        assert (await _conversation(c, conversation_id)).owner == "closed"


async def test_hand_back_returns_the_conversation_to_the_bot(db_url) -> None:
    async with console(db_url) as c:
        await c.agent("amy")
        await c.login("amy")
        conversation_id = await c.queued(phone="+15045550101")
        await c.route()
        offer = await _pending(c, conversation_id)
        await c.http.post(f"/api/v1/agent/offers/{offer.id}/accept", headers=c.auth("amy"))
        back = await c.http.post(f"/api/v1/agent/conversations/{conversation_id}/hand-back",
                                 json={"note": "only needs a payment link"},
                                 headers=c.auth("amy"))
        assert back.status_code == 200 and back.json()["state"] == "handed_back"
        conversation = await _conversation(c, conversation_id)
        assert conversation.owner == "bot" and conversation.agent_id is None
        await c.route()  # the bot owns it: nothing is queued again
        assert len(await _offers(c, conversation_id)) == 1


async def test_first_response_sla_breach_is_announced_once(db_url) -> None:
    async with console(db_url) as c:
        conversation_id = await c.queued(phone="+15045550101", skill="outage")
        await c.route()
        async with c.runtime.sessions() as session:
            await session.execute(update(QueueEntry).values(
                first_response_due=utcnow() - timedelta(seconds=1)))
            await session.commit()
        await c.route()
        await c.route()
        breaches = await _events(c, "sla.breach")
        assert sorted(e.audience for e in breaches) == ["skill:outage", "supervisors"]
        assert {e.conversation_id for e in breaches} == {conversation_id}
        updates = [e for e in await _events(c, "queue.update") if e.audience == "supervisors"]
        assert updates[-1].payload["queues"]["outage"]["sla_breached"] == 1


async def test_queue_position_and_estimated_wait(db_url) -> None:
    async with console(db_url, default_handle_s=600) as c:
        estimate = c.runtime.extras["queue_estimate"]
        await c.agent("amy", presence="busy", capacity={"sms": 2})
        first = await c.queued(phone="+15045550101")
        second = await c.queued(phone="+15045550102")
        await c.route()
        assert await estimate(first, "billing", 0) == (1, 5)  # 600 s over 2 sms slots
        assert await estimate(second, "billing", 0) == (2, 10)
        # A customer about to join behind them, and an angrier one who goes ahead.
        assert await estimate(999_999, "billing", 0) == (3, 15)
        assert await estimate(999_998, "billing", 5) == (1, 5)
        assert await estimate(999_997, "general", 0) == (3, 15)  # unknown skill: billing


async def test_customer_leaves_the_queue_for_a_callback(db_url) -> None:
    async with console(db_url) as c:
        amy = await c.agent("amy")
        await c.login("amy")
        conversation_id = await c.queued(phone="+15045550101")
        await c.route()
        await _pending(c, conversation_id)
        queue_exit = c.runtime.extras["queue_exit"]
        async with c.runtime.sessions() as session:
            await queue_exit(session, conversation_id=conversation_id, choice="callback",
                             callback_number="+15045550101", note="after 5pm please")
            await session.commit()
        assert (await _conversation(c, conversation_id)).owner == "bot"
        await c.route()
        assert [o.outcome for o in await _offers(c, conversation_id)] == ["withdrawn"]
        [withdrawn] = await _events(c, "offer.withdrawn")
        assert withdrawn.audience == f"agent:{amy.id}"
        listed = (await c.http.get("/api/v1/agent/callbacks", headers=c.auth("amy"))).json()
        assert [(e["conversation_id"], e["state"], e["customer_note"]) for e in listed] == [
            (conversation_id, "callback", "after 5pm please")]
        done = await c.http.post(f"/api/v1/agent/callbacks/{listed[0]['entry_id']}/done",
                                 headers=c.auth("amy"))
        assert done.json()["state"] == "done"
        assert (await c.http.get("/api/v1/agent/callbacks", headers=c.auth("amy"))).json() == []


async def test_agent_reply_is_recorded_for_the_channel_and_stops_the_first_response_clock(
        db_url) -> None:
    async with console(db_url) as c:
        await c.agent("amy")
        await c.login("amy")
        conversation_id = await c.queued(phone="+15045550101")
        await c.route()
        offer = await _pending(c, conversation_id)
        await c.http.post(f"/api/v1/agent/offers/{offer.id}/accept", headers=c.auth("amy"))
        sent = await c.http.post(f"/api/v1/agent/conversations/{conversation_id}/messages",
                                 json={"text": "Hi, this is Amy. How can I help?"},
                                 headers=c.auth("amy"))
        assert sent.status_code == 200, sent.text
        async with c.runtime.sessions() as session:
            reply = (await session.scalars(select(Message).where(
                Message.direction == "outbound"))).one()
            assignment = (await session.scalars(select(Assignment))).one()
        assert (reply.author, reply.recipient, reply.body) == (
            "agent", "+15045550101", "Hi, this is Amy. How can I help?")
        assert assignment.first_response_at is not None
        [out] = await _events(c, "message.out")
        assert out.payload["messages"][0]["id"] == reply.id
        detail = (await c.http.get(f"/api/v1/agent/conversations/{conversation_id}",
                                   headers=c.auth("amy"))).json()
        assert [m["author"] for m in detail["transcript"]] == ["customer", "agent"]


async def test_the_heartbeat_pass_runs_once_per_tick_for_the_whole_cluster(db_url) -> None:
    """Every API process runs the routing loop; the heartbeat's timed work needs one pass per
    tick, whoever runs it. A second engine on the same shared state (another process) adds
    almost no heartbeat passes; alone, an engine takes every beat."""
    import asyncio
    import contextlib

    from agent_console.routing.engine import RoutingEngine
    from agent_console.startup import ENGINE

    tick, window = 0.1, 1.5
    async with console(db_url, route_tick_s=tick) as c:
        first: RoutingEngine = c.runtime.extras[ENGINE]
        second = RoutingEngine(c.runtime)
        loop = asyncio.create_task(second._loop())
        try:
            before = first.passes
            await asyncio.sleep(window)
            together = first.passes - before + second.passes
        finally:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop  # gone before the lone window starts
        before = first.passes
        await asyncio.sleep(window)
        alone = first.passes - before
    # A beat is a tick plus the pass it runs; alone, the engine takes every one of them.
    assert alone >= 3, alone
    assert together <= 1.4 * alone + 1, (together, alone)  # each engine beating: ~2x
