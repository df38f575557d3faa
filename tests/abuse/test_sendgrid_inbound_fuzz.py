"""SendGrid Inbound Parse with valid credentials and broken posts: malformed multipart, the
wrong content type, missing fields, JSON side fields of the wrong shape, absurd charsets. The
endpoint answers 2xx or a 4xx (SendGrid retries only 5xx), and a refused post stores nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core.conversations.models import Message
from tests.messaging_helpers import Harness

from .kit import abuse_app, basic_auth

INBOUND = "/channels/email/inbound"
FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

Part = tuple[str, bytes, str | None, str | None]  # name, payload, filename, content type


def multipart(parts: list[Part], boundary: str = "xYzZY") -> bytes:
    out = b""
    for name, payload, filename, content_type in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        if content_type:
            out += f"Content-Type: {content_type}\r\n".encode()
        out += b"\r\n" + payload + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def side_json() -> st.SearchStrategy[bytes]:
    shapes = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                          lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(st.sampled_from(["to", "from", "text", "subject",
                                                             "attachment1", "filename",
                                                             "type", "html"]), inner,
                                            max_size=3), max_leaves=6)
    return st.one_of(shapes.map(lambda v: json.dumps(v).encode()),
                     st.sampled_from([b"{", b"", b"\xff\xfe", b'{"text": "no-such-charset"}',
                                      b'{"text": "utf-7", "subject": "x-unknown"}',
                                      b'{"attachment1": 5}', b'{"to": 5, "from": []}']))


TEXT_FIELDS = ["from", "to", "subject", "text", "html", "headers", "sender_ip", "SPF", "dkim"]
fields = st.one_of(st.binary(max_size=80), st.text(max_size=80).map(str.encode),
                   st.sampled_from([b"Maria <maria@example.com>", b"help@riverbend.example",
                                    b"From: <>\r\nSubject: =?bogus?Q?x?=\r\n", b"\x00" * 8]))


@st.composite
def inbound_posts(draw: st.DrawFn) -> tuple[str, bytes]:
    parts: list[Part] = []
    for name in draw(st.lists(st.sampled_from(TEXT_FIELDS), max_size=6, unique=True)):
        parts.append((name, draw(fields), None, None))
    for name in draw(st.lists(st.sampled_from(["charsets", "envelope", "attachment-info"]),
                              max_size=3, unique=True)):
        parts.append((name, draw(side_json()), None, None))
    if draw(st.booleans()):
        parts.append(("attachment1", draw(st.binary(max_size=60)),
                      draw(st.none() | st.text(max_size=12)),
                      draw(st.none() | st.sampled_from(["image/png", "text/html", "x/\x00"]))))
    if draw(st.booleans()):
        parts.append(("email", draw(fields), None, None))
    body = multipart(parts)
    breakage = draw(st.sampled_from(["none", "truncate", "no-boundary", "other-boundary",
                                     "garbage", "json", "urlencoded", "text"]))
    content_type = "multipart/form-data; boundary=xYzZY"
    if breakage == "truncate":
        body = body[: draw(st.integers(0, max(0, len(body) - 1)))]
    elif breakage == "no-boundary":
        content_type = "multipart/form-data"
    elif breakage == "other-boundary":
        content_type = "multipart/form-data; boundary=nope"
    elif breakage == "garbage":
        body = draw(st.binary(max_size=300))
    elif breakage == "json":
        content_type, body = "application/json", b'{"from": "a@b.c", "text": "hi"}'
    elif breakage == "urlencoded":
        content_type, body = "application/x-www-form-urlencoded", b"from=a%40b.c&text=hi"
    elif breakage == "text":
        content_type = "text/plain"
    return content_type, body


@pytest.fixture
async def harness(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    async with abuse_app(sqlite_url, tmp_path / "mail", seeded=False) as started:
        yield started


@FUZZ
@given(post=inbound_posts())
# Found by this test: CR/LF in a loose field (header injection) was a ValueError, a 500.
@example(post=("multipart/form-data; boundary=xYzZY", multipart([
    ("from", b"a@example.com\r\nBcc: victim@example.com", None, None),
    ("subject", b"hi\r\nX-Injected: 1", None, None), ("text", b"hello", None, None)])))
async def test_broken_inbound_parse_posts_are_4xx_and_store_nothing(
        harness: Harness, post: tuple[str, bytes]) -> None:
    content_type, body = post
    inbound = Message.direction == "inbound"  # replies to earlier posts land meanwhile
    before = await harness.count(Message, inbound)
    response = await harness.client.post(INBOUND, content=body, headers={
        **basic_auth(), "Content-Type": content_type})
    assert response.status_code < 500, response.text
    stored = await harness.count(Message, inbound) - before
    if response.status_code >= 400:
        assert response.status_code in (400, 413, 415, 422), response.text
        assert stored == 0
    else:
        # Accepted: stored once, or a repeat, or set aside as machine-written mail.
        outcome = response.json()["outcome"]
        assert (outcome, stored) in {("stored", 1), ("repeat", 0), ("machine", 0)}
