"""Hostile frames on one web chat socket: any JSON (lone surrogates, NULs, wrong types, deep
nesting), wrong frame types, bad message ids. Each is answered or refused with an error frame
and the socket stays usable (a ping after it is answered); only valid messages are stored."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from channels.webchat.client import ChatClient
from channels.webchat.service import channel_of
from core.conversations.models import Message
from tests.messaging_helpers import Harness

from .kit import abuse_app, served

FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=3),
    max_leaves=8)
texts = st.one_of(st.text(max_size=60), st.sampled_from(
    ["\x00", "\u202e", "4539 1488 0343 6467", "{utility}", "x" * 2049, "é" * 1100, ""]))


@st.composite
def frames(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["message", "typing", "ping", "hello", "nope", None, 5]))
    frame: dict[str, object] = {"type": kind}
    if draw(st.booleans()):
        frame["id"] = draw(st.one_of(st.text(max_size=70), json_values,
                                     st.sampled_from(["ok-1", "a" * 65, "../x", "id\x00"])))
    if draw(st.booleans()):
        frame["text"] = draw(st.one_of(texts, json_values))
    for key in draw(st.lists(st.sampled_from(["on", "ref", "token", "after", "lang"]),
                             max_size=2, unique=True)):
        frame[key] = draw(json_values)
    raw = json.dumps(frame)
    mangling = draw(st.sampled_from(["none", "surrogate", "truncate", "array", "garbage"]))
    if mangling == "surrogate":
        raw = raw.replace('"type"', '"type", "text": "\\ud800x"', 1)
    elif mangling == "truncate":
        raw = raw[: draw(st.integers(0, len(raw)))]
    elif mangling == "array":
        raw = f"[{raw}]"
    elif mangling == "garbage":
        raw = draw(st.text(max_size=40))
    return raw


@pytest.fixture
async def chat(db_url: str, tmp_path: Path) -> AsyncIterator[tuple[Harness, ChatClient]]:
    async with abuse_app(db_url, tmp_path / "mail", seeded=False) as harness:
        # The per-connection rate limit has its own flood test; here every frame must count.
        channel = channel_of(harness.runtime)
        channel.limits = replace(channel.limits, frames_per_s=1000.0, burst=1000)
        async with served(harness.app) as host:
            client = await ChatClient.connect(f"ws://{host}/channels/webchat/ws")
            try:
                yield harness, client
            finally:
                await client.ws.close()


@FUZZ
@given(raw=frames())
# A lone surrogate in a JSON string decodes to a str that cannot be encoded as UTF-8.
@example(raw='{"type": "message", "id": "s1", "text": "\\ud800"}')
async def test_hostile_frames_are_refused_and_the_socket_lives_on(
        chat: tuple[Harness, ChatClient], raw: str) -> None:
    harness, client = chat
    before = await harness.count(Message, Message.channel == "webchat",
                                 Message.direction == "inbound")
    await client.send_frame(raw)
    await client.send_frame({"type": "ping", "ref": "alive?"})
    await client.wait_for("pong", ref="alive?", timeout=10)
    stored = await harness.count(Message, Message.channel == "webchat",
                                 Message.direction == "inbound") - before
    assert stored in (0, 1)
    if stored:
        # The newest inbound one: the bot's reply to it may already be stored after it.
        last = (await harness.messages(Message.channel == "webchat",
                                       Message.direction == "inbound"))[-1]
        assert "\x00" not in last.body
