"""Web chat over a real socket: a real uvicorn server on a free port, the `websockets` client
(channels/webchat/client.py), a seeded demo utility, and the console's real API for agents."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import func, select
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from channels.webchat.client import ChatClient, ChatRefused
from channels.webchat.config import EXTRA_KEY, WebchatLimits
from channels.webchat.service import channel_of
from channels.webchat.tokens import SessionSigner
from core.accounts.models import Account
from core.conversations.models import Conversation, Message
from core.db import make_engine
from core.demo.generator import SeedOptions, seed_demo_utility
from tests.bot_helpers import AS_OF, persona
from tests.integration.agent_console.console_kit import (
    Console,
    WsAgent,
    console,
    eventually,
    served,
)

WS_PATH = "/channels/webchat/ws"


@dataclass
class Site:
    """The app serving web chat, and what a test needs to drive both sides of a chat."""

    console: Console
    host: str

    @property
    def url(self) -> str:
        return f"ws://{self.host}{WS_PATH}"

    async def chat(self, **options: object) -> ChatClient:
        return await ChatClient.connect(self.url, **options)  # type: ignore[arg-type]

    async def inbound(self, session_id: str) -> list[Message]:
        async with self.console.runtime.sessions() as session:
            return list(await session.scalars(select(Message).where(
                Message.sender == f"webchat:{session_id}").order_by(Message.id)))

    async def conversation(self, conversation_id: int) -> Conversation:
        async with self.console.runtime.sessions() as session:
            found = await session.get(Conversation, conversation_id)
            assert found is not None
            return found


@asynccontextmanager
async def site(db_url: str, *, customers: int = 12, limits: WebchatLimits | None = None,
               redis_url: str | None = None) -> AsyncIterator[Site]:
    engine = make_engine(db_url)
    try:
        await seed_demo_utility(engine, SeedOptions(customers=customers, seed=11, months=3,
                                                    as_of=AS_OF))
    finally:
        await engine.dispose()
    async with console(db_url, redis_url) as c:
        if limits is not None:
            c.runtime.extras[EXTRA_KEY] = limits
            channel = channel_of(c.runtime)
            channel.limits = limits
        async with served(c.app) as host:
            yield Site(console=c, host=host)


async def test_a_reconnect_with_the_token_resumes_the_conversation_and_its_history(
        db_url: str) -> None:
    async with site(db_url) as s:
        first = await s.chat()
        assert first.welcome["resumed"] is False and first.history == []
        assert first.welcome["greeting"]["quick_replies"]
        (question,) = await first.ask("OUT")
        assert question["author"] == "bot" and question["quick_replies"] == ["Yes", "No"]
        await first.close()

        again = await s.chat(token=first.token)
        assert again.welcome["resumed"] is True
        assert again.session_id == first.session_id
        assert [(m["author"], m["text"]) for m in again.history] == [
            ("customer", "OUT"), ("bot", question["text"])]
        # The open question keeps its buttons after a reload.
        assert again.history[-1]["quick_replies"] == ["Yes", "No"]
        assert again.welcome["conversation_id"] == question_conversation(s, again)
        # The token slides: same session, later expiry.
        assert again.welcome["expires_at"] >= first.welcome["expires_at"]

        # The flow carries on where it was.
        (answer,) = await again.ask("no")
        assert "account" in answer["text"].lower()
        await again.close()

        # Resuming from a known message id sends only what came after it.
        later = await s.chat(token=again.token, after=question["id"])
        assert [m["text"] for m in later.history] == ["no", answer["text"]]
        await later.close()


def question_conversation(s: Site, client: ChatClient) -> int:
    return int(client.welcome["conversation_id"])


async def test_a_resend_with_the_same_client_id_is_stored_once(db_url: str) -> None:
    async with site(db_url) as s:
        chat = await s.chat()
        client_id = await chat.send("hello", client_id="msg-1")
        first = await chat.wait_for("ack", id=client_id)
        assert first["duplicate"] is False
        await chat.reply(after=first["message_id"])
        await chat.close()

        # The browser never saw the ack (say the socket dropped): it resends after reconnecting.
        back = await s.chat(token=chat.token)
        await back.send("hello", client_id="msg-1")
        repeat = await back.wait_for("ack", id="msg-1")
        assert repeat["duplicate"] is True and repeat["message_id"] == first["message_id"]
        stored = await s.inbound(chat.session_id)
        assert [m.body for m in stored] == ["hello"]
        # Answered once, too.
        with pytest.raises(TimeoutError):
            await back.reply(after=first["message_id"], timeout=0.5)
        await back.close()

        # Another session may use the same client id: ids are per session.
        other = await s.chat()
        await other.send("hello", client_id="msg-1")
        assert (await other.wait_for("ack", id="msg-1"))["duplicate"] is False
        await other.close()


async def test_rate_limit_answers_with_error_frames_and_keeps_the_socket(db_url: str) -> None:
    async with site(db_url) as s:
        chat = await s.chat()
        sent = [await chat.send(f"hello {i}") for i in range(30)]
        acks, refused = 0, 0
        async with asyncio.timeout(10):
            while acks + refused < len(sent):
                frame = await chat.recv()
                if frame["type"] == "ack":
                    acks += 1
                elif frame["type"] == "error":
                    assert frame["code"] == "slow_down" and frame["retry_after_s"] > 0
                    refused += 1
        # A burst of 10, then 5 a second: far fewer than 30 got through, none was lost quietly.
        assert 10 <= acks < 20 and refused == 30 - acks
        assert len(await s.inbound(chat.session_id)) == acks
        # Still open and usable once the bucket refills.
        await asyncio.sleep(0.5)
        await chat.send_frame({"type": "ping", "ref": 7})
        assert (await chat.wait_for("pong"))["ref"] == 7
        await chat.close()


async def test_size_limits_and_malformed_frames(db_url: str) -> None:
    async with site(db_url) as s:
        chat = await s.chat()
        client_id = await chat.send("é" * 1025)  # 2,050 bytes of UTF-8
        refused = await chat.wait_for("error", code="too_long")
        assert refused["ref"] == client_id
        await chat.send_frame("{not json")
        assert (await chat.wait_for("error"))["code"] == "bad_json"
        await chat.send_frame({"type": "message", "text": "no id"})
        assert (await chat.wait_for("error"))["code"] == "bad_frame"
        await chat.send_frame({"type": "launch"})
        assert (await chat.wait_for("error"))["code"] == "unknown_type"
        await chat.send_frame({"type": "message", "id": "m-blank", "text": " \u200b\n "})
        assert (await chat.wait_for("error"))["code"] == "empty"
        assert await s.inbound(chat.session_id) == []
        # Exactly at the limit is fine.
        await chat.send("a" * 2048, client_id="m-full")
        assert (await chat.wait_for("ack", id="m-full"))["duplicate"] is False

        # A frame over 16 KB closes the socket with 1009 (message too big).
        await chat.send_frame(json.dumps({"type": "message", "id": "big", "text": "x" * 17000}))
        with pytest.raises(ConnectionClosed):
            while True:
                await chat.recv()
        assert chat.ws.close_code == 1009
        assert [len(m.body) for m in await s.inbound(chat.session_id)] == [2048]


async def test_forged_expired_and_foreign_tokens_are_refused(db_url: str) -> None:
    async with site(db_url) as s:
        chat = await s.chat()
        token = chat.token
        await chat.close()
        prefix, body, mac = token.split(".")
        # Someone else's session id under our signature.
        forged_body = body[:-2] + ("AA" if body[-2:] != "AA" else "BB")
        signer = SessionSigner("not-our-secret-key", ttl_s=3600)
        foreign, _ = signer.issue(chat.session_id)
        ours = channel_of(s.console.runtime).signer
        expired, _ = ours.issue(chat.session_id, now=0)
        for bad, reason in ((f"{prefix}.{forged_body}.{mac}", "invalid"),
                            (foreign, "invalid"), (expired, "expired"),
                            ("wc1..", "invalid"), ("x" * 600, "invalid")):
            with pytest.raises(ChatRefused) as refused:
                await s.chat(token=bad)
            assert refused.value.close_code == 4001, bad
            assert refused.value.frame["code"] == "unauthorized"
            assert refused.value.frame["reason"] == reason
        # The real one still works.
        back = await s.chat(token=token)
        assert back.session_id == chat.session_id
        await back.close()


async def test_no_hello_or_a_bad_one_closes_with_4002(db_url: str) -> None:
    limits = WebchatLimits(hello_timeout_s=0.3)
    async with site(db_url, limits=limits) as s:
        async with connect(s.url) as ws:
            await ws.send(json.dumps({"type": "message", "id": "m", "text": "hi"}))
            error = json.loads(await ws.recv())
            assert error["code"] == "bad_hello"
            await ws.wait_closed()
            assert ws.close_code == 4002
        async with connect(s.url) as ws:  # silent: the hello timeout closes it
            assert json.loads(await ws.recv())["code"] == "bad_hello"
            await ws.wait_closed()
            assert ws.close_code == 4002


async def test_session_endpoint_issues_a_token_the_socket_accepts(db_url: str) -> None:
    async with site(db_url) as s, httpx.AsyncClient(base_url=f"http://{s.host}") as http:
        issued = (await http.post("/channels/webchat/session")).json()
        chat = await s.chat(token=issued["token"])
        assert chat.session_id == issued["session_id"] and chat.welcome["resumed"] is True
        await chat.close()


async def test_two_tabs_of_one_session_see_each_others_messages(db_url: str) -> None:
    async with site(db_url) as s:
        tab_a = await s.chat()
        tab_b = await s.chat(token=tab_a.token)
        client_id = await tab_a.send("hello")
        ack = await tab_a.wait_for("ack", id=client_id)
        echo = await tab_b.wait_for("message", author="customer")
        assert echo["client_id"] == client_id and echo["id"] == ack["message_id"]
        # Both tabs get the bot's answer; tab A never gets its own echo.
        for tab in (tab_a, tab_b):
            assert (await tab.reply(after=ack["message_id"]))["author"] == "bot"
        assert not [f for f in tab_a.frames if f.get("author") == "customer"]
        await tab_a.close()
        await tab_b.close()


async def test_verifying_in_chat_ties_the_conversation_to_the_account(db_url: str) -> None:
    async with site(db_url) as s:
        tanya = persona("past_due")
        async with s.console.runtime.sessions() as session:
            account = (await session.execute(select(Account).where(
                Account.number == tanya.account_number))).scalar_one()
        chat = await s.chat()
        (ask,) = await chat.ask("BAL")
        assert "ZIP" in ask["text"] or "account" in ask["text"].lower(), ask
        conversation_id = int((await s.inbound(chat.session_id))[0].conversation_id)
        assert (await s.conversation(conversation_id)).customer_id is None
        replies = await chat.ask(f"{tanya.account_number} {tanya.zip} Brooks")
        assert any("$" in r["text"] for r in replies), replies

        async def tied() -> bool:
            return (await s.conversation(conversation_id)).customer_id == account.customer_id

        await eventually(tied)
        # Still the session's thread: the next message lands in the same conversation.
        await chat.ask("thanks")
        assert {m.conversation_id for m in await s.inbound(chat.session_id)} == {
            conversation_id}
        assert (await s.conversation(conversation_id)).open_key == (
            f"address:webchat:{chat.session_id}")
        await chat.close()


async def test_an_agent_reply_and_typing_reach_the_widget(db_url: str) -> None:
    async with site(db_url) as s:
        c = s.console
        await c.agent("dana", skills=("billing",))
        token = await c.login("dana")
        agent = await WsAgent.connect(s.host, token)

        chat = await s.chat()
        replies = await chat.ask("I want to talk to a person")
        assert any("line" in r["text"] for r in replies), replies
        offer = await agent.wait_for("offer.new")
        accepted = await c.http.post(f"/api/v1/agent/offers/{offer['data']['offer_id']}"
                                     "/accept", headers=c.auth("dana"))
        assert accepted.status_code == 200, accepted.text
        conversation_id = offer["conversation_id"]

        # The customer types: the agent sees it (throttled, but the first one goes through).
        await chat.send_frame({"type": "typing", "on": True})
        typing = await agent.wait_for("typing")
        assert typing["conversation_id"] == conversation_id
        assert typing["data"]["who"] == "customer"

        # The agent types, then answers: the widget shows both.
        # (`typing` has no answer, so it is sent without waiting for one)
        await agent.ws.send(json.dumps({"type": "typing", "conversation_id": conversation_id}))
        assert (await chat.wait_for("typing"))["who"] == "agent"
        sent = await c.http.post(f"/api/v1/agent/conversations/{conversation_id}/messages",
                                 json={"text": "Hi, this is Dana. How can I help?"},
                                 headers=c.auth("dana"))
        assert sent.status_code == 200, sent.text
        pushed = await chat.wait_for("message", author="agent")
        assert pushed["text"] == "Hi, this is Dana. How can I help?"
        assert pushed["agent"] == "Dana"

        # And the customer's answer reaches the agent (the bot stays quiet).
        await chat.send("My bill looks too high")
        got = await agent.wait_for("message.in")
        assert got["data"]["message"]["body"] == "My bill looks too high"
        with pytest.raises(TimeoutError):
            await chat.reply(after=pushed["id"], timeout=0.5)

        # A reload shows the agent's message, with the agent's name.
        await chat.close()
        back = await s.chat(token=chat.token)
        assert back.history[-2]["agent"] == "Dana"
        assert back.welcome["owner"] == "agent"
        async with c.runtime.sessions() as session:
            count = await session.scalar(select(func.count()).select_from(Message).where(
                Message.conversation_id == conversation_id, Message.author == "agent"))
        assert count == 1
        await back.close()
        await agent.close()


async def test_a_tab_that_stops_reading_is_dropped_without_holding_anyone_up(
        db_url: str) -> None:
    async with site(db_url, limits=WebchatLimits(outbox_max=8)) as s:
        hub = channel_of(s.console.runtime).hub
        # A frozen tab: a tiny receive buffer (no autotuning) and no reading ahead.
        address, port = s.host.rsplit(":", 1)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (address, int(port)))
        # (no compression: repeated text would shrink to nothing on the wire)
        stalled = await s.chat(max_queue=1, sock=sock, compression=None)
        awake = await s.chat()
        # It stops reading while replies keep coming: they pile up in its own bounded outbox,
        # and the hub never waits for it.
        frame = {"type": "message", "id": 0, "author": "bot", "text": "x" * 12000, "at": "now"}
        delivered = []
        for i in range(1, 1000):
            delivered.append(hub.deliver(stalled.session_id, {**frame, "id": i}))
            await asyncio.sleep(0)  # the socket's writer sends what the network takes
        assert delivered[:8] == [1] * 8 and delivered[-1] == 0
        # Everyone else is served as usual meanwhile.
        (answer,) = await awake.ask("hello")
        assert answer["author"] == "bot"
        # The stalled tab, once it reads again, finds itself closed as too slow (4008) and
        # resumes from its history on reconnect.
        with pytest.raises(ConnectionClosed):
            while True:
                await stalled.recv()
        assert stalled.ws.close_code == 4008
        back = await s.chat(token=stalled.token)
        assert back.session_id == stalled.session_id
        await back.close()
        await awake.close()
