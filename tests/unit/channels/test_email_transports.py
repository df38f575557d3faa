"""Outbound transports against local fakes: a SendGrid v3 stand-in (served in-process) and a
real SMTP server (aiosmtpd) on a free port; provider refusals map to retry or give up."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import FastAPI, Request, Response

from channels.email.sender import Identity, compose
from channels.email.threading import ThreadHeaders
from core.config import Settings
from core.conversations.schemas import Outgoing, SendFailed
from integrations.email import (
    SandboxTransport,
    SendGridTransport,
    SmtpTransport,
    build_transport,
)
from integrations.email.sendgrid import payload_for

IDENTITY = Identity(address="help@riverbend.example", display_name="Riverbend Public Utilities")
THREAD = ThreadHeaders(in_reply_to="<CAHx8Lq0@mail.gmail.com>",
                       references=("<sd.root@riverbend.example>", "<CAHx8Lq0@mail.gmail.com>"),
                       subject="Re: Your outage report for 1420 Elm St")


def reply(text: str = "Crews expect to restore power by 6 PM.", *,
          automatic: bool = True) -> EmailMessage:
    outgoing = Outgoing(message_id=7, channel="email", to="maria@gmail.example",
                        from_="outages@riverbend.example", text=text,
                        media_urls=("https://riverbend.example/map",))
    return compose(outgoing, identity=IDENTITY, thread=THREAD,
                   message_id="<sd.abc123@riverbend.example>", automatic=automatic)


def test_composed_reply_carries_thread_and_loop_guards() -> None:
    mail = message_from_bytes(reply("Señora, la luz vuelve a las 6.").as_bytes(),
                              policy=policy.default)
    assert isinstance(mail, EmailMessage)
    assert mail["From"] == "Riverbend Public Utilities <outages@riverbend.example>"
    assert mail["In-Reply-To"] == "<CAHx8Lq0@mail.gmail.com>"
    assert mail["References"] == "<sd.root@riverbend.example> <CAHx8Lq0@mail.gmail.com>"
    assert mail["Auto-Submitted"] == "auto-replied"
    assert mail["X-Auto-Response-Suppress"] == "All"
    assert mail.get_content() == "Señora, la luz vuelve a las 6.\n\nhttps://riverbend.example/map\n"
    # An agent's reply is a person's: no Auto-Submitted, so auto-responders may answer it.
    assert reply(automatic=False)["Auto-Submitted"] is None


def test_build_transport_follows_settings(tmp_path: Any) -> None:
    assert isinstance(build_transport(Settings(email_store_dir=tmp_path)), SandboxTransport)
    assert isinstance(build_transport(Settings(smtp_host="relay.example")), SmtpTransport)
    assert isinstance(build_transport(Settings(smtp_host="relay.example",
                                               sendgrid_api_key="SG.x")), SendGridTransport)


# --- SendGrid -----------------------------------------------------------------------------

class FakeSendGrid:
    """Answers /v3/mail/send like SendGrid: 202 with X-Message-Id, or the status it is told."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.answer = 202

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v3/mail/send")
        async def send(request: Request) -> Response:
            self.requests.append((dict(request.headers), json.loads(await request.body())))
            if self.answer != 202:
                return Response(json.dumps({"errors": [{"message": "no"}]}),
                                status_code=self.answer, media_type="application/json")
            return Response(status_code=202, headers={"X-Message-Id": "sgRk9X2-Q4uXq0oTQ1"})

        return app


def sendgrid(fake: FakeSendGrid) -> SendGridTransport:
    return SendGridTransport(api_key="SG.test-key", base_url="http://sendgrid.fake/",
                             http_transport=httpx.ASGITransport(app=fake.app()))


async def test_sendgrid_posts_v3_json_with_threading_headers() -> None:
    fake = FakeSendGrid()
    transport = sendgrid(fake)
    try:
        assert await transport.send(reply()) == "sgRk9X2-Q4uXq0oTQ1"
    finally:
        await transport.close()
    [(headers, body)] = fake.requests
    assert headers["authorization"] == "Bearer SG.test-key"
    assert body["personalizations"] == [{"to": [{"email": "maria@gmail.example"}]}]
    assert body["from"] == {"email": "outages@riverbend.example",
                            "name": "Riverbend Public Utilities"}
    assert body["subject"] == "Re: Your outage report for 1420 Elm St"
    assert body["content"][0]["type"] == "text/plain"
    assert body["content"][0]["value"].startswith("Crews expect to restore power by 6 PM.")
    assert body["headers"]["Message-ID"] == "<sd.abc123@riverbend.example>"
    assert body["headers"]["In-Reply-To"] == "<CAHx8Lq0@mail.gmail.com>"
    assert body["headers"]["References"] == THREAD.references[0] + " " + THREAD.references[1]
    # Headers SendGrid refuses in `headers` (400 for the whole request) are never there.
    assert not {"From", "To", "Subject", "Content-Type", "MIME-Version"} & set(body["headers"])


@pytest.mark.parametrize(("status", "permanent"), [
    (400, True), (401, True), (413, True), (429, False), (500, False), (503, False),
])
async def test_sendgrid_refusals_map_to_retry_or_give_up(status: int, permanent: bool) -> None:
    fake = FakeSendGrid()
    fake.answer = status
    transport = sendgrid(fake)
    try:
        with pytest.raises(SendFailed) as failed:
            await transport.send(reply())
    finally:
        await transport.close()
    assert failed.value.permanent is permanent
    assert failed.value.code == str(status)


def test_sendgrid_payload_lists_plain_before_html() -> None:
    message = reply()
    message.add_alternative("<p>Crews expect power by 6 PM.</p>", subtype="html")
    content = payload_for(message)["content"]
    assert [c["type"] for c in content] == ["text/plain", "text/html"]


# --- SMTP ---------------------------------------------------------------------------------

class RelayHandler:
    def __init__(self, answer: str = "250 OK") -> None:
        self.answer = answer
        self.received: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.answer.startswith("250"):
            self.received.append((envelope.mail_from or "", list(envelope.rcpt_tos),
                                  envelope.original_content or b""))
        return self.answer


@asynccontextmanager
async def relay(handler: RelayHandler) -> AsyncIterator[int]:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler, loop=loop), "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def test_smtp_relay_receives_the_exact_message() -> None:
    handler = RelayHandler()
    async with relay(handler) as port:
        await SmtpTransport(host="127.0.0.1", port=port, timeout=5).send(reply())
    [(mail_from, rcpts, raw)] = handler.received
    assert mail_from == "outages@riverbend.example" and rcpts == ["maria@gmail.example"]
    mail = message_from_bytes(raw, policy=policy.default)
    assert mail["Message-ID"] == "<sd.abc123@riverbend.example>"
    assert mail["In-Reply-To"] == "<CAHx8Lq0@mail.gmail.com>"


@pytest.mark.parametrize(("answer", "permanent"), [
    ("554 5.7.1 Message rejected as spam", True),
    ("451 4.7.1 Greylisted, try again later", False),
])
async def test_smtp_relay_answers_map_to_retry_or_give_up(answer: str, permanent: bool) -> None:
    async with relay(RelayHandler(answer)) as port:
        with pytest.raises(SendFailed) as failed:
            await SmtpTransport(host="127.0.0.1", port=port, timeout=5).send(reply())
    assert failed.value.permanent is permanent
    assert failed.value.code == answer[:3]


async def test_smtp_relay_down_is_a_retry() -> None:
    async with relay(RelayHandler()) as port:
        pass  # closed again: nothing listens on `port` now
    with pytest.raises(SendFailed) as failed:
        await SmtpTransport(host="127.0.0.1", port=port, timeout=5).send(reply())
    assert not failed.value.permanent
