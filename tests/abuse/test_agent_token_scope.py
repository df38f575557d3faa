"""An agent's valid console token, used on a conversation another agent holds: every verb is
refused (403) over REST and over the websocket, nothing is written on the conversation, and
each refusal is audited."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from websockets.asyncio.client import connect

from agent_console.startup import engine_of
from core.accounts.models import Account
from core.agents.models import Agent
from core.audit.models import AuditEntry
from core.conversations import service as conversations
from core.conversations.models import Conversation, Message
from core.conversations.schemas import Handoff, InboundMessage
from core.db import unit_of_work
from tests.messaging_helpers import Harness

from .kit import Callers, abuse_app, make_callers, persona, served


@pytest.fixture
async def held(db_url: str, tmp_path: Path) -> AsyncIterator[tuple[Harness, Callers, int, int]]:
    """Amy holds the resident's conversation; Bob is signed in too. (harness, callers,
    conversation id, the resident's account id)."""
    async with abuse_app(db_url, tmp_path / "mail") as harness:
        callers = await make_callers(harness)
        runtime = harness.runtime
        resident = persona("resident")
        async with unit_of_work(runtime.sessions) as session:
            await session.execute(update(Agent).where(Agent.id == callers.amy_id)
                                  .values(presence="available"))
            await session.execute(update(Agent).where(Agent.id == callers.bob_id)
                                  .values(presence="offline"))
            intake = await conversations.receive(session, inbound=InboundMessage(
                channel="sms", external_id=f"SM{uuid.uuid4().hex}", sender=resident.phone,
                recipient="+15045550100", text="I need a person"))
            await conversations.mark_handled(session, intake.message_id)
            await conversations.transition(
                session, conversation_id=intake.conversation_id, to="queued",
                reason="customer_asked", handoff=Handoff(reason="customer_asked",
                                                         skill="billing", priority=0))
            account_id = await session.scalar(select(Account.id).where(
                Account.number == resident.account_number))
        offer_id = None
        async with asyncio.timeout(10):
            while offer_id is None:
                await engine_of(runtime).route_once()
                state = (await harness.client.get("/api/v1/agent/state",
                                                  headers=callers.amy)).json()
                offers = [o for o in state["offers"]
                          if o["conversation_id"] == intake.conversation_id]
                offer_id = offers[0]["offer_id"] if offers else None
        accepted = await harness.client.post(f"/api/v1/agent/offers/{offer_id}/accept",
                                             headers=callers.amy)
        assert accepted.status_code == 200, accepted.text
        linked = await harness.client.post(
            f"/api/v1/agent/conversations/{intake.conversation_id}/link-account",
            headers=callers.amy, json={"account_number": resident.account_number})
        assert linked.status_code == 200, linked.text
        yield harness, callers, intake.conversation_id, account_id


def _verbs(conversation_id: int, account_id: int) -> list[tuple[str, str, dict | None]]:
    c, a = f"/api/v1/agent/conversations/{conversation_id}", f"/api/v1/agent/accounts/{account_id}"
    return [
        ("GET", c, None),
        ("POST", f"{c}/messages", {"text": "hi, this is Bob"}),
        ("POST", f"{c}/notes", {"body": "Bob was here"}),
        ("POST", f"{c}/transfer", {"to_agent_id": None, "to_queue": "outage"}),
        ("POST", f"{c}/wrap-up", None),
        ("POST", f"{c}/wrap-up/complete", {"disposition": "resolved"}),
        ("POST", f"{c}/hand-back", {"note": "bot, take it"}),
        ("GET", f"{c}/canned", None),
        ("GET", f"{c}/accounts", None),
        ("POST", f"{c}/link-account", {"account_number": persona("landlord").account_number}),
        ("GET", a, None),
        ("POST", f"{a}/adjustments", {"amount": "-10.00", "reason": "goodwill"}),
        ("POST", f"{a}/notes", {"body": "Bob was here"}),
        ("POST", f"{a}/deposits", {"amount": "1.00", "reason": "why not"}),
        ("GET", f"/api/v1/supervisor/conversations/{conversation_id}", None),
    ]


async def _snapshot(harness: Harness, conversation_id: int) -> tuple:
    async with harness.runtime.sessions() as session:
        conversation = await session.get(Conversation, conversation_id)
        messages = await session.scalar(select(func.count()).select_from(Message).where(
            Message.conversation_id == conversation_id))
        return conversation.owner, conversation.agent_id, conversation.customer_id, messages


async def test_another_agents_token_is_refused_on_every_rest_verb(held) -> None:
    harness, callers, conversation_id, account_id = held
    before = await _snapshot(harness, conversation_id)
    for method, path, body in _verbs(conversation_id, account_id):
        response = await harness.client.request(method, path, json=body, headers=callers.bob)
        assert response.status_code == 403, (method, path, response.text)
        # The holder is allowed the same read: the refusal is about who, not what.
    assert (await harness.client.get(f"/api/v1/agent/conversations/{conversation_id}",
                                     headers=callers.amy)).status_code == 200
    assert await _snapshot(harness, conversation_id) == before
    async with harness.runtime.sessions() as session:
        refusals = await session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.actor == "agent:bob", AuditEntry.action.like("denied:%")))
    assert refusals >= len(_verbs(conversation_id, account_id)) - 1


async def test_another_agents_socket_is_refused_on_every_command(held) -> None:
    harness, callers, conversation_id, _ = held
    before = await _snapshot(harness, conversation_id)
    token = callers.bob["Authorization"].removeprefix("Bearer ")
    commands = [("message.send", {"text": "hi"}), ("note.add", {"body": "x"}),
                ("transfer", {"to_queue": "outage"}), ("wrap_up.start", {}),
                ("wrap_up.complete", {"disposition": "resolved"}), ("hand_back", {}),
                ("monitor.start", {}), ("typing", {})]
    async with served(harness.app) as host, connect(f"ws://{host}/agent/ws") as ws:
        await ws.send(json.dumps({"type": "hello", "token": token}))
        assert json.loads(await ws.recv())["type"] == "welcome"
        answers = {}
        for n, (kind, fields) in enumerate(commands):
            await ws.send(json.dumps({"type": kind, "ref": n,
                                      "conversation_id": conversation_id, **fields}))
        async with asyncio.timeout(10):
            while len(answers) < len(commands):  # typing answers only when refused
                frame = json.loads(await ws.recv())
                if "ref" in frame:
                    answers[commands[frame["ref"]][0]] = frame
    assert {k: (v["type"], v["error"]) for k, v in answers.items()} == {
        kind: ("error", "forbidden") for kind, _ in commands}
    assert await _snapshot(harness, conversation_id) == before
