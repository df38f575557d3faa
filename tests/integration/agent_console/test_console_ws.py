"""The agent websocket: authentication, live events, replay on reconnect, lost-publish repair,
and a stalled client that must not delay anyone else."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid

import pytest
from console_kit import UTILITY_NUMBER, WsAgent, console, eventually, served
from sqlalchemy import select
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from agent_console.auth import tokens
from agent_console.live.log import ALL, agent_audience, console_tx
from agent_console.startup import hub_of
from core.agents.models import ConsoleEvent
from core.audit.models import AuditEntry
from core.conversations import flows
from core.conversations.schemas import InboundMessage


async def _customer_texts(c, phone: str, text: str) -> None:
    await flows.intake(c.runtime, InboundMessage(
        channel="sms", external_id=f"SM{uuid.uuid4().hex}", sender=phone,
        recipient=UTILITY_NUMBER, text=text))


async def test_socket_without_a_valid_token_is_refused_and_audited(db_url) -> None:
    async with console(db_url) as c, served(c.app) as host:
        agent = await c.agent("amy")
        stale = tokens.issue(agent, secret_key=c.runtime.settings.secret_key.get_secret_value(),
                             ttl_s=30, now=1_000.0).token
        for hello, reason in [({"type": "hello"}, "a console token is required"),
                              ({"type": "hello", "token": stale}, "token expired")]:
            async with connect(f"ws://{host}/agent/ws") as ws:
                await ws.send(json.dumps(hello))
                error = json.loads(await ws.recv())
                assert error["type"] == "error" and error["message"] == reason
                with pytest.raises(ConnectionClosed) as closed:
                    await ws.recv()
                assert closed.value.rcvd.code == 4001
        async with c.runtime.sessions() as session:
            audited = list(await session.scalars(select(AuditEntry.reason).where(
                AuditEntry.action == "denied:WS /agent/ws").order_by(AuditEntry.id)))
        assert audited == ["a console token is required", "token expired"]


async def test_reconnect_with_last_id_replays_exactly_what_was_missed(db_url) -> None:
    async with console(db_url) as c, served(c.app) as host:
        amy = await c.agent("amy", presence="away")
        await c.agent("sue", role="supervisor")
        token = await c.login("amy")
        await c.login("sue")
        ws = await WsAgent.connect(host, token)
        ack = await ws.command("presence.set", presence="available")
        assert ack["type"] == "ack" and ack["data"]["presence"] == "available"
        first = await c.queued(phone="+15045550101")
        offer = await ws.wait_for("offer.new", conversation_id=first)
        accepted = await ws.command("offer.accept", offer_id=offer["data"]["offer_id"])
        assert accepted["type"] == "ack", accepted
        await ws.wait_for("conversation.assigned", conversation_id=first)
        await _customer_texts(c, "+15045550101", "my bill doubled")
        live_in = await ws.wait_for("message.in", conversation_id=first)
        assert live_in["data"]["message"]["body"] == "my bill doubled"
        seen_before = [e["id"] for e in ws.events]
        await ws.close()

        # While Amy is away: the customer writes twice, the supervisor leaves a note, and a
        # second customer is offered to her.
        await _customer_texts(c, "+15045550101", "hello?")
        await _customer_texts(c, "+15045550101", "are you there")
        note = await c.http.post(f"/api/v1/agent/conversations/{first}/notes",
                                 json={"body": "offer the budget plan"}, headers=c.auth("sue"))
        assert note.status_code == 200
        second = await c.queued(phone="+15045550102")
        await c.route()

        async def missed_events() -> list[ConsoleEvent] | None:
            async with c.runtime.sessions() as session:
                found = list(await session.scalars(
                    select(ConsoleEvent).where(
                        ConsoleEvent.id > ws.last_id,
                        ConsoleEvent.audience.in_([agent_audience(amy.id), ALL,
                                                   "skill:billing"]))
                    .order_by(ConsoleEvent.id)))
            kinds = [e.kind for e in found]
            complete = (kinds.count("message.in") == 2 and "note.added" in kinds
                        and "offer.new" in kinds)
            return found if complete else None

        missed = await eventually(missed_events)

        again = await WsAgent.connect(host, token, last_event_id=ws.last_id)
        done = await again.wait_for("replay.done")
        replayed = [e for e in again.events if e["id"] <= done["last_event_id"]]
        assert [e["id"] for e in replayed] == [e.id for e in missed]
        assert not set(seen_before) & {e["id"] for e in replayed}
        bodies = [e["data"]["message"]["body"] for e in replayed if e["type"] == "message.in"]
        assert bodies == ["hello?", "are you there"]
        assert any(e["type"] == "offer.new" and e["conversation_id"] == second
                   for e in replayed)

        # And it is live again after the replay.
        await _customer_texts(c, "+15045550101", "ok thanks")
        for seen in replayed:
            seen["_taken"] = True
        after = await again.wait_for("message.in", conversation_id=first)
        assert after["data"]["message"]["body"] == "ok thanks"
        assert after["id"] > done["last_event_id"]
        await again.close()


async def test_an_event_the_bus_lost_is_read_back_from_the_database(db_url) -> None:
    async with console(db_url, repair_interval_s=0.05, repair_grace_s=0.2) as c, \
            served(c.app) as host:
        await c.agent("amy")
        ws = await WsAgent.connect(host, await c.login("amy"))
        bus = c.runtime.bus
        real_publish = bus.publish
        dropped: list[dict] = []

        async def lossy(topic: str, payload: dict) -> None:
            if topic == "console.events" and not dropped:
                dropped.append(payload)  # the first batch never reaches anyone
                return
            await real_publish(topic, payload)

        bus.publish = lossy  # type: ignore[method-assign]
        try:
            async with console_tx(c.runtime) as tx:
                tx.emit(ALL, "storm.banner", {"on": True, "message": "lost one"})
            async with console_tx(c.runtime) as tx:
                tx.emit(ALL, "storm.banner", {"on": False, "message": "next one"})
            first = await ws.wait_for("storm.banner")
            second = await ws.wait_for("storm.banner")
        finally:
            bus.publish = real_publish  # type: ignore[method-assign]
        assert dropped
        assert (first["data"]["message"], second["data"]["message"]) == ("lost one", "next one")
        assert second["id"] > first["id"]

        # A batch from another deployment sharing the Redis server is not ours: ignored.
        hub = hub_of(c.runtime)
        await bus.publish("console.events", {"log": "someone-else", "events": [
            {"id": hub.watermark + 1, "type": "storm.banner", "audience": ALL, "at": "",
             "conversation_id": None, "data": {"on": True, "message": "not ours"}}]})
        async with console_tx(c.runtime) as tx:
            tx.emit(ALL, "storm.banner", {"on": False, "message": "ours"})
        third = await ws.wait_for("storm.banner")
        assert third["data"]["message"] == "ours" and hub.foreign == 1
        await ws.close()


async def test_a_stalled_agent_does_not_delay_the_others(db_url) -> None:
    big = secrets.token_urlsafe(45_000)  # ~60 kB that compression cannot shrink
    count = 400  # ~24 MB per client: far more than the stalled socket's buffers hold
    async with console(db_url, send_queue_max=32) as c, served(c.app) as host:
        await c.agent("amy")
        await c.agent("bob")
        stalled = await WsAgent.connect(host, await c.login("amy"), stalled=True)
        reader = await WsAgent.connect(host, await c.login("bob"))
        start_id = reader.last_id

        async def read_all() -> float:
            while sum(1 for e in reader.events if e["type"] == "flood") < count:
                await reader.recv(timeout=20)
            return time.monotonic()

        reading = asyncio.create_task(read_all())
        began = time.monotonic()
        for batch in range(count // 20):
            async with console_tx(c.runtime) as tx:
                for i in range(20):
                    tx.emit(ALL, "flood", {"n": batch * 20 + i, "pad": big})
        finished = await asyncio.wait_for(reading, 60)
        assert [e["data"]["n"] for e in reader.events if e["type"] == "flood"] == list(
            range(count))
        assert finished - began < 30
        # The stalled one was cut loose (it would have held everyone's memory, not their time).
        assert hub_of(c.runtime).drops > 0
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await stalled.recv(timeout=20)
        # 4008 when the close frame gets through the backlog, else the server aborted the
        # socket after its close timeout; either way the server let go of it.
        assert closed.value.rcvd is None or closed.value.rcvd.code == 4008
        assert hub_of(c.runtime).connections() == 1  # only Bob is still attached

        # Reconnecting from where it got to, it receives everything: nothing was lost.
        again = await WsAgent.connect(host, c.tokens["amy"], last_event_id=start_id)
        await again.wait_for("replay.done", timeout=30)
        assert [e["data"]["n"] for e in again.events if e["type"] == "flood"] == list(
            range(count))
        await again.close()
        await reader.close()


async def test_reconnecting_after_retention_gets_a_resync_not_a_partial_replay(db_url) -> None:
    async with console(db_url) as c, served(c.app) as host:
        await c.agent("amy")
        token = await c.login("amy")
        ws = await WsAgent.connect(host, token)
        last = ws.last_id
        await ws.close()
        async with console_tx(c.runtime) as tx:
            tx.emit(ALL, "storm.banner", {"on": True, "message": "while away"})
        c.configure(event_retention_s=0.0, prune_every_s=0.0)
        await c.route()
        async with c.runtime.sessions() as session:
            # Everything up to the banner is pruned (the background loop may log newer events,
            # e.g. amy going offline, at any moment: those are not the point here).
            kept = list(await session.scalars(select(ConsoleEvent.kind)))
            assert "storm.banner" not in kept
            assert await session.scalar(
                select(ConsoleEvent.id).where(ConsoleEvent.id <= last + 1)) is None
        again = await WsAgent.connect(host, token, last_event_id=last)
        resync = await again.wait_for("resync")
        assert resync["last_event_id"] >= last + 1
        assert not [e for e in again.events if e["type"] == "storm.banner"]
        await again.close()
