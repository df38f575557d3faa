"""Websocket floods on the agent console and the web chat: a connection that sends faster than
a person can is slowed down (`slow_down` errors, nothing stored past the allowance) or closed,
and the server goes on serving everyone else."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from channels.webchat.client import ChatClient
from core.conversations.models import Message
from tests.messaging_helpers import Harness

from .kit import Callers, abuse_app, make_callers, served

FLOOD = 300


@pytest.fixture
async def live(sqlite_url: str, tmp_path: Path) -> AsyncIterator[tuple[Harness, Callers, str]]:
    async with abuse_app(sqlite_url, tmp_path / "mail", seeded=False) as harness:
        callers = await make_callers(harness)
        async with served(harness.app) as host:
            yield harness, callers, host


async def _agent_socket(host: str, callers: Callers, who: str = "amy") -> ClientConnection:
    ws = await connect(f"ws://{host}/agent/ws", max_queue=None)
    token = getattr(callers, who)["Authorization"].removeprefix("Bearer ")
    await ws.send(json.dumps({"type": "hello", "token": token}))
    assert json.loads(await ws.recv())["type"] == "welcome"
    return ws


async def _answers(ws: ClientConnection, count: int) -> list[dict]:
    """The next `count` command answers (acks and errors), skipping live events."""
    found: list[dict] = []
    async with asyncio.timeout(20):
        while len(found) < count:
            frame = json.loads(await ws.recv())
            if frame.get("type") in ("ack", "error"):
                found.append(frame)
    return found


async def _still_serving(harness: Harness, host: str, callers: Callers) -> None:
    assert (await harness.client.get("/healthz")).status_code == 200
    other = await _agent_socket(host, callers, "sue")
    try:
        await other.send(json.dumps({"type": "ping", "ref": "p"}))
        (pong,) = await _answers(other, 1)
        assert pong["type"] == "ack" and pong["data"] == {"pong": True}
    finally:
        await other.close()


@pytest.mark.parametrize("frame", [
    json.dumps({"type": "ping"}),
    json.dumps({"type": "presence.set", "presence": "available"}),
    "not json at all",
    json.dumps({"type": "no.such.command"}),
    json.dumps([1, 2, 3]),
], ids=["ping", "presence", "garbage", "unknown-type", "not-an-object"])
async def test_an_agent_socket_flood_is_slowed_down(live, frame: str) -> None:
    harness, callers, host = live
    ws = await _agent_socket(host, callers)
    try:
        for _ in range(FLOOD):
            await ws.send(frame)
        answers = await _answers(ws, FLOOD)
    finally:
        await ws.close()
    slowed = [a for a in answers if a.get("error") == "slow_down"]
    # The allowance is a burst of 60 and 20 a second: most of a 300-frame burst is refused.
    assert len(slowed) >= FLOOD // 2, [a.get("error") for a in answers][:70]
    await _still_serving(harness, host, callers)


@pytest.mark.parametrize("frame", [b"\x00" * 1024,
                                   json.dumps({"type": "ping", "pad": "x" * 2_000_000})],
                         ids=["binary", "2-MB"])
async def test_an_agent_socket_sending_binary_or_huge_frames_is_closed(
        live, frame: str | bytes) -> None:
    harness, callers, host = live
    ws = await _agent_socket(host, callers)
    with pytest.raises(ConnectionClosed):
        await ws.send(frame)
        async with asyncio.timeout(10):
            while True:
                await ws.recv()
    await _still_serving(harness, host, callers)


async def test_many_sockets_that_never_say_hello_do_not_hold_the_server(live) -> None:
    harness, callers, host = live
    idle = [await connect(f"ws://{host}/agent/ws") for _ in range(40)]
    try:
        for ws in idle:
            await ws.send("GET / HTTP/1.1")
        for ws in idle:
            with pytest.raises(ConnectionClosed) as closed:
                async with asyncio.timeout(10):
                    while True:
                        await ws.recv()
            assert closed.value.rcvd.code == 4002
        await _still_serving(harness, host, callers)
    finally:
        for ws in idle:
            await ws.close()


async def test_a_web_chat_flood_stores_only_the_allowance(live) -> None:
    """A client that floods without reading is slowed down, and closed (4008) once the
    refusals it does not read pile up: either way only the allowance is stored."""
    harness, callers, host = live
    chat = await ChatClient.connect(f"ws://{host}/channels/webchat/ws")
    limits = chat.welcome["limits"]
    verdicts: dict[str, int] = {}
    try:
        for n in range(FLOOD):
            await chat.send_frame({"type": "message", "id": f"m{n}", "text": f"hello {n}"})
        async with asyncio.timeout(30):
            while sum(verdicts.values()) < FLOOD:
                frame = await chat.recv()
                if frame["type"] in ("ack", "error"):
                    key = "stored" if frame["type"] == "ack" else frame["code"]
                    verdicts[key] = verdicts.get(key, 0) + 1
    except ConnectionClosed as closed:
        assert closed.rcvd is not None and closed.rcvd.code == 4008, closed
        verdicts["closed"] = 1
    finally:
        await chat.ws.close()
    assert verdicts.get("slow_down") or verdicts.get("closed"), verdicts
    stored = await harness.count(Message, Message.channel == "webchat",
                                 Message.direction == "inbound")
    assert stored < FLOOD // 2, (stored, verdicts)
    assert stored <= limits["burst"] + limits["frames_per_s"] * 30
    await _still_serving(harness, host, callers)


async def test_a_web_chat_frame_over_the_size_limit_closes_the_socket(live) -> None:
    harness, callers, host = live
    chat = await ChatClient.connect(f"ws://{host}/channels/webchat/ws")
    with pytest.raises(ConnectionClosed) as closed:
        await chat.send_frame({"type": "message", "id": "big", "text": "x" * 100_000})
        async with asyncio.timeout(10):
            while True:
                await chat.recv()
    assert closed.value.rcvd.code == 1009
    assert await harness.count(Message, Message.channel == "webchat") == 0
    await _still_serving(harness, host, callers)
