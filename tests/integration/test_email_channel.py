"""The email channel end to end, on SQLite and PostgreSQL: real MIME sent through a real SMTP
client to the embedded listener, and real multipart posts to the Inbound Parse endpoint. Each
message must land once in its conversation, thread with what it answers, and be answered by
email with the threading headers set; auto-replies and bounces must get no answer."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import aiosmtplib
import httpx
import pytest
from fastapi import FastAPI, Request, Response
from sqlalchemy import func, select

from channels.email.loops import ReplyBudget
from channels.email.parse import parse_raw
from channels.email.service import EXTRA_KEY, EmailChannel
from channels.email.threading import external_id_for
from core.auth.service import create_token
from core.config import Settings
from core.conversations.models import Message
from core.db import unit_of_work
from core.enums import Role
from core.runtime import Runtime
from integrations.email import SandboxTransport, SendGridTransport
from stormdesk.app import create_app
from stormdesk.wiring import build_runtime

FIXTURES = Path(__file__).parents[1] / "fixtures" / "email"
OUR_ADDRESS = "help@riverbend.example"
INBOUND_USER = "sendgrid"
INBOUND_PASSWORD = "parse-secret-7b1f0c"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def basic_auth(user: str = INBOUND_USER, password: str = INBOUND_PASSWORD) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def wait_for(predicate: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Poll a condition the pipeline will make true (bounded; never a fixed sleep)."""
    async with asyncio.timeout(timeout):
        while not await predicate():
            await asyncio.sleep(0.02)


@dataclass
class EmailHarness:
    app: FastAPI
    client: httpx.AsyncClient
    runtime: Runtime
    channel: EmailChannel

    @property
    def sandbox(self) -> SandboxTransport:
        transport = self.channel.sender.transport
        assert isinstance(transport, SandboxTransport)
        return transport

    @property
    def smtp_port(self) -> int:
        assert self.channel.listener_port is not None
        return self.channel.listener_port

    async def messages(self, *where: Any) -> list[Message]:
        async with self.runtime.sessions() as session:
            return list(await session.scalars(
                select(Message).where(Message.channel == "email", *where).order_by(Message.id)))

    async def count(self, *where: Any) -> int:
        async with self.runtime.sessions() as session:
            stmt = select(func.count()).select_from(Message)
            for condition in where:
                stmt = stmt.where(condition)
            return int(await session.scalar(stmt) or 0)

    async def replies_sent(self, count: int) -> list[Message]:
        """Wait until `count` email replies are sent; returns them, oldest first."""
        async def done() -> bool:
            return len(await self.messages(Message.direction == "outbound",
                                           Message.status == "sent")) >= count
        await wait_for(done)
        return await self.messages(Message.direction == "outbound")

    def sent_mail(self) -> list[EmailMessage]:
        """What went out, re-parsed from its bytes as a receiving server would see it."""
        parsed = []
        for message in self.sandbox.sent:
            again = message_from_bytes(message.as_bytes(), policy=policy.default)
            assert isinstance(again, EmailMessage)
            parsed.append(again)
        return parsed


@asynccontextmanager
async def email_app(db_url: str, store: Path, **overrides: Any) -> AsyncIterator[EmailHarness]:
    values: dict[str, Any] = {
        "database_url": db_url, "env": "test", "log_json": False,
        "email_address": OUR_ADDRESS, "email_store_dir": store,
        "email_inbound_user": INBOUND_USER, "email_inbound_password": INBOUND_PASSWORD,
        "email_smtp_listen": True, "email_smtp_host": "127.0.0.1", "email_smtp_port": 0,
    }
    values.update(overrides)
    settings = Settings(**values)
    runtime = await build_runtime(settings)
    app = create_app(settings, runtime=runtime)
    try:
        async with (app.router.lifespan_context(app),
                    httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                      base_url="http://t") as client):
            channel = runtime.extras[EXTRA_KEY]
            yield EmailHarness(app, client, runtime, channel)
    finally:
        await runtime.close()


GMAIL = "gmail_reply_thread.eml"
MARIA = "maria.lopez.home@gmail.com"
GMAIL_ID = "<CAHx8Lq0Qw3r9ZJk2vNe5pT1YbXfW6sDhE7uR4aGm+K9c_aB1dQ@mail.gmail.com>"
# 69 characters: past the 64 of messages.external_id, so stored as a digest of itself.
GMAIL_KEY = external_id_for(GMAIL_ID)
OUTLOOK_REPLY_ID = ("<DM6PR11MB43213F8E2A1B44C0D1E2F3A4B5C6D7E8F9A0B1C2"
                    "@DM6PR11MB4321.namprd11.prod.outlook.com>")


async def smtp_send(h: EmailHarness, raw: bytes, *, mail_from: str,
                    to: tuple[str, ...] = (OUR_ADDRESS,)) -> None:
    """Deliver like a sending server: EHLO, MAIL FROM (empty: the null sender), RCPT, DATA."""
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=h.smtp_port, timeout=10) as smtp:
        await smtp.sendmail(mail_from, list(to), raw)


def header(mail: EmailMessage, name: str) -> str:
    """A header's value unfolded, as a mail client reads it."""
    return " ".join(str(mail[name] or "").split())


def answering(raw: bytes, *, message_id: str, in_reply_to: str, references: str) -> bytes:
    """A customer's next reply in the thread: the Gmail fixture re-pointed at `in_reply_to`."""
    return (raw.replace(GMAIL_ID.encode(), message_id.encode())
            .replace(b"In-Reply-To: <sd.m41.2f6c1e0a@riverbend.example>",
                     f"In-Reply-To: {in_reply_to}".encode())
            .replace(b"References: <sd.m41.2f6c1e0a@riverbend.example>",
                     f"References: {references}".encode()))


# --- the SMTP listener ------------------------------------------------------------------------

async def test_gmail_reply_by_smtp_is_stored_cleaned_answered_and_threaded(
        db_url: str, tmp_path: Path) -> None:
    async with email_app(db_url, tmp_path) as h:
        await smtp_send(h, fixture(GMAIL), mail_from=MARIA)
        [inbound] = await h.messages(Message.direction == "inbound")
        assert inbound.external_id == GMAIL_KEY != GMAIL_ID
        assert inbound.sender == MARIA and inbound.recipient == OUR_ADDRESS
        # Quoted history and the "-- " signature never reach the bot.
        assert inbound.body == (
            "The power is still out at my house and now the basement sump pump isn't "
            "running. Is there an estimate for when it will be back?\n\nThanks,\nMaria")

        [reply] = await h.replies_sent(1)
        assert reply.conversation_id == inbound.conversation_id
        assert reply.recipient == MARIA and reply.reply_to_id == inbound.id
        [mail] = h.sent_mail()
        assert header(mail, "To") == MARIA
        assert header(mail, "In-Reply-To") == GMAIL_ID
        assert header(mail, "References").split() == [
            "<sd.m41.2f6c1e0a@riverbend.example>", GMAIL_ID]
        assert header(mail, "Subject") == "Re: Your outage report for 1420 Elm St"
        assert mail["Auto-Submitted"] == "auto-replied"  # the bot wrote it
        # Stored as the reply's external id: the customer's next reply threads on it.
        assert header(mail, "Message-ID") == reply.external_id
        assert mail.get_content().strip() == reply.body.strip()

        # Maria answers our reply: same conversation, found by her In-Reply-To too.
        second_id = "<CAHx8Lq0-second-reply@mail.gmail.com>"
        ours = header(mail, "Message-ID")
        await smtp_send(h, answering(fixture(GMAIL), message_id=second_id, in_reply_to=ours,
                                     references=f"{header(mail, 'References')} {ours}"),
                        mail_from=MARIA)
        received = await h.messages(Message.direction == "inbound")
        assert [m.external_id for m in received] == [GMAIL_KEY, second_id]
        assert received[1].conversation_id == inbound.conversation_id
        replies = await h.replies_sent(2)
        later = h.sent_mail()[1]
        assert header(later, "In-Reply-To") == second_id
        assert header(later, "References").split()[-2:] == [header(mail, "Message-ID"), second_id]
        assert header(later, "Subject") == "Re: Your outage report for 1420 Elm St"
        assert {r.conversation_id for r in replies} == {inbound.conversation_id}


async def test_smtp_redelivery_is_stored_once(db_url: str, tmp_path: Path) -> None:
    async with email_app(db_url, tmp_path) as h:
        for _ in range(2):  # a sending server that lost our 250 and tried again
            await smtp_send(h, fixture(GMAIL), mail_from=MARIA)
        await h.replies_sent(1)
        assert len(await h.messages(Message.direction == "inbound")) == 1
        assert len(await h.messages(Message.direction == "outbound")) == 1


async def test_listener_is_not_an_open_relay(db_url: str, tmp_path: Path) -> None:
    async with email_app(db_url, tmp_path) as h:
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
            await smtp_send(h, fixture(GMAIL), mail_from=MARIA, to=("someone@elsewhere.example",))
        assert refused.value.recipients[0].code == 550
        assert await h.count() == 0


async def test_oversized_mail_is_refused_with_552(db_url: str, tmp_path: Path) -> None:
    async with email_app(db_url, tmp_path, email_max_message_bytes=2048) as h:
        with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
            await smtp_send(h, fixture(GMAIL), mail_from=MARIA)
        assert refused.value.code == 552
        assert await h.count() == 0


async def test_outlook_auto_reply_by_smtp_gets_no_answer(db_url: str, tmp_path: Path) -> None:
    async with email_app(db_url, tmp_path) as h:
        await smtp_send(h, fixture("outlook_auto_reply.eml"),
                        mail_from="DOkafor@harborlogistics.example")
        # A person's mail sent after it is answered, so the pipeline is known to be running
        # by the time we check that the auto-reply was not.
        await smtp_send(h, fixture("outlook_reply.eml"),
                        mail_from="DOkafor@harborlogistics.example")
        [reply] = await h.replies_sent(1)
        # Only the person's reply is stored; Outlook's Message-ID is longer than the column,
        # so it is kept as a digest of itself, and our answer still quotes the real one.
        [inbound] = await h.messages(Message.direction == "inbound")
        assert inbound.external_id == external_id_for(OUTLOOK_REPLY_ID)
        assert reply.reply_to_id == inbound.id
        [mail] = h.sent_mail()
        assert header(mail, "In-Reply-To") == OUTLOOK_REPLY_ID
        assert header(mail, "Subject") == "Re: Payment arrangement for account 4400-1187"


async def test_bounce_of_our_reply_marks_it_undelivered_and_is_not_answered(
        db_url: str, tmp_path: Path) -> None:
    async with email_app(db_url, tmp_path) as h:
        await smtp_send(h, fixture(GMAIL), mail_from=MARIA)
        [reply] = await h.replies_sent(1)
        dsn = fixture("dsn_bounce.eml").replace(
            b"<sd.m91.d00dfeed@riverbend.example>", (reply.external_id or "").encode())
        await smtp_send(h, dsn, mail_from="")  # bounces come from the null sender
        async def undelivered() -> bool:
            [row] = await h.messages(Message.direction == "outbound")
            return row.status == "undelivered"
        await wait_for(undelivered)
        [row] = await h.messages(Message.direction == "outbound")
        assert row.error_code == "5.1.1"
        assert len(await h.messages(Message.direction == "inbound")) == 1
        assert len(h.sandbox.sent) == 1


async def test_latin1_mail_by_smtp_keeps_its_accents(db_url: str, tmp_path: Path) -> None:
    async with email_app(db_url, tmp_path) as h:
        await smtp_send(h, fixture("latin1_8bit.eml"), mail_from="AMunoz@webmail-antiguo.example")
        [inbound] = await h.messages(Message.direction == "inbound")
        assert inbound.sender == "amunoz@webmail-antiguo.example"
        assert "La dirección es Calle Peñasco 45." in inbound.body
        await h.replies_sent(1)
        # The answer's subject: decoded from iso-8859-1, re-encoded by us as UTF-8.
        assert header(h.sent_mail()[0], "Subject") == "Re: Sin energía eléctrica"


async def test_attachments_over_the_limit_are_recorded_not_stored(
        db_url: str, tmp_path: Path) -> None:
    async with email_app(db_url, tmp_path, email_max_attachment_bytes=100_000) as h:
        await smtp_send(h, fixture("attachments_photo_pdf.eml"),
                        mail_from="jt.nguyen@icloud.example")
        [inbound] = await h.messages(Message.direction == "inbound")
        assert [m["content_type"] for m in inbound.media] == ["application/pdf"]
        digest = inbound.media[0]["url"].rsplit("/", 1)[-1]
        stored = await h.channel.store.attachment(digest)
        assert stored is not None and stored.startswith(b"%PDF-")
        files = list((tmp_path / "attachments").rglob("*"))
        assert [f.name for f in files if f.is_file()] == [digest]  # only the PDF's bytes
        record = await h.channel.store.record(inbound.external_id or "")
        assert record is not None
        refused = {a["filename"]: a["refused"] for a in record.attachments}
        assert refused == {"IMG_4471.jpeg": "too_large", "March bill.pdf": None,
                           "meter_photo.png": "type_mismatch", "setup.exe": "type_not_allowed"}

        # Agents fetch the stored one with a bearer token; nobody else does.
        assert (await h.client.get(inbound.media[0]["url"])).status_code == 401
        async with unit_of_work(h.runtime.sessions) as session:
            _, token = await create_token(session, name="agent-ana", role=Role.AGENT)
        got = await h.client.get(inbound.media[0]["url"],
                                 headers={"Authorization": f"Bearer {token}"})
        assert got.status_code == 200 and got.content == stored
        assert got.headers["content-type"] == "application/pdf"
        assert got.headers["content-disposition"].startswith("attachment")


# --- SendGrid Inbound Parse -------------------------------------------------------------------

INBOUND = "/channels/email/inbound"


def parsed_form(raw: bytes) -> tuple[dict[str, str], list[tuple[str, tuple[Any, ...]]]]:
    """The parsed-mode form SendGrid would post for `raw`: loose fields in the mail's own
    charset (named in `charsets`), the header block, and attachments as file parts."""
    mail = message_from_bytes(raw, policy=policy.default)
    assert isinstance(mail, EmailMessage)
    head = raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[0]
    parts: list[tuple[str, tuple[Any, ...]]] = [("headers", (None, head))]
    charsets = {"to": "UTF-8", "from": "UTF-8", "subject": "UTF-8"}
    for subtype in ("plain", "html"):
        body = mail.get_body(preferencelist=(subtype,))
        if body is not None:
            field = "text" if subtype == "plain" else "html"
            charsets[field] = body.get_content_charset() or "us-ascii"
            parts.append((field, (None, body.get_payload(decode=True))))
    info: dict[str, dict[str, str]] = {}
    for n, attached in enumerate(mail.iter_attachments(), 1):
        name = f"attachment{n}"
        info[name] = {"filename": attached.get_filename() or name,
                      "type": attached.get_content_type()}
        parts.append((name, (attached.get_filename(), attached.get_payload(decode=True),
                             attached.get_content_type())))
    fields = {
        "from": str(mail["From"]), "to": str(mail["To"]), "subject": str(mail["Subject"]),
        "charsets": json.dumps(charsets), "attachments": str(len(info)),
        "attachment-info": json.dumps(info), "SPF": "pass", "sender_ip": "209.85.220.41",
        "envelope": json.dumps({"to": [OUR_ADDRESS],
                                "from": parseaddr(str(mail["From"]))[1]}),
        "dkim": "{@gmail.com : pass}", "spam_score": "0.1",
    }
    return fields, parts


async def test_inbound_parse_needs_the_basic_auth_secret(db_url: str, tmp_path: Path) -> None:
    async with email_app(db_url, tmp_path) as h:
        fields, files = parsed_form(fixture(GMAIL))
        missing = await h.client.post(INBOUND, data=fields, files=files)
        wrong = await h.client.post(INBOUND, data=fields, files=files,
                                    headers=basic_auth(password="guess"))
        garbage = await h.client.post(INBOUND, data=fields, files=files,
                                      headers={"Authorization": "Basic !!!"})
        for response in (missing, wrong, garbage):
            assert response.status_code == 401
            assert response.headers["www-authenticate"].startswith("Basic ")
        assert await h.count() == 0
        assert not list(tmp_path.rglob("*.json"))  # nothing stored, not even the headers


async def test_inbound_parse_unconfigured_refuses_everything(db_url: str, tmp_path: Path) -> None:
    async with email_app(db_url, tmp_path, email_inbound_password=None) as h:
        fields, files = parsed_form(fixture(GMAIL))
        response = await h.client.post(INBOUND, data=fields, files=files, headers=basic_auth())
        assert response.status_code == 403
        assert await h.count() == 0


async def test_inbound_parse_parsed_mode_stores_threads_and_answers(
        db_url: str, tmp_path: Path) -> None:
    async with email_app(db_url, tmp_path, email_smtp_listen=False) as h:
        fields, files = parsed_form(fixture(GMAIL))
        response = await h.client.post(INBOUND, data=fields, files=files, headers=basic_auth())
        assert response.status_code == 200, response.text
        assert response.json()["outcome"] == "stored"
        [inbound] = await h.messages(Message.direction == "inbound")
        assert inbound.external_id == GMAIL_KEY
        assert inbound.body.startswith("The power is still out at my house")
        assert "wrote:" not in inbound.body and "Maria Lopez" not in inbound.body
        await h.replies_sent(1)
        [mail] = h.sent_mail()
        assert header(mail, "In-Reply-To") == GMAIL_ID
        assert header(mail, "Subject") == "Re: Your outage report for 1420 Elm St"

        # SendGrid retries a post it thinks failed: stored once, answered once.
        again = await h.client.post(INBOUND, data=fields, files=files, headers=basic_auth())
        assert again.json()["outcome"] == "repeat"
        assert len(await h.messages(Message.direction == "inbound")) == 1

        # Her answer to our reply, posted raw this time, joins the same conversation.
        second_id = "<CAHx8Lq0-by-sendgrid-raw@mail.gmail.com>"
        ours = header(mail, "Message-ID")
        raw = answering(fixture(GMAIL), message_id=second_id, in_reply_to=ours,
                        references=f"{header(mail, 'References')} {ours}")
        posted = await h.client.post(INBOUND, headers=basic_auth(), files=[
            ("email", (None, raw)), ("to", (None, OUR_ADDRESS.encode())),
            ("envelope", (None, json.dumps({"to": [OUR_ADDRESS], "from": MARIA}).encode())),
            ("charsets", (None, b'{"to":"UTF-8","from":"UTF-8","subject":"UTF-8"}'))])
        assert posted.status_code == 200, posted.text
        assert posted.json()["conversation_id"] == inbound.conversation_id
        await h.replies_sent(2)
        assert header(h.sent_mail()[1], "In-Reply-To") == second_id


async def test_inbound_parse_windows_1252_fields_are_decoded_by_their_charset(
        db_url: str, tmp_path: Path) -> None:
    async with email_app(db_url, tmp_path, email_smtp_listen=False) as h:
        fields, files = parsed_form(fixture("outlook_reply.eml"))
        assert json.loads(fields["charsets"])["text"] == "windows-1252"
        response = await h.client.post(INBOUND, data=fields, files=files, headers=basic_auth())
        assert response.status_code == 200, response.text
        [inbound] = await h.messages(Message.direction == "inbound")
        assert inbound.body.startswith("Hi – I’d like to split the $412.50 past-due balance")
        assert "CONFIDENTIALITY" not in inbound.body and "Original" not in inbound.body


async def test_inbound_parse_attachments_with_binary_bytes_survive_the_form(
        db_url: str, tmp_path: Path) -> None:
    async with email_app(db_url, tmp_path, email_smtp_listen=False) as h:
        fields, files = parsed_form(fixture("attachments_photo_pdf.eml"))
        response = await h.client.post(INBOUND, data=fields, files=files, headers=basic_auth())
        assert response.status_code == 200, response.text
        [inbound] = await h.messages(Message.direction == "inbound")
        assert sorted(m["content_type"] for m in inbound.media) == ["application/pdf",
                                                                     "image/jpeg"]
        original = message_from_bytes(fixture("attachments_photo_pdf.eml"), policy=policy.default)
        photo = next(p for p in original.walk() if p.get_filename() == "IMG_4471.jpeg")
        expected = photo.get_payload(decode=True)
        jpeg = next(m for m in inbound.media if m["content_type"] == "image/jpeg")
        stored = await h.channel.store.attachment(jpeg["url"].rsplit("/", 1)[-1])
        assert stored == expected  # every byte, CRs and all


@pytest.mark.parametrize(("name", "kind"), [
    ("outlook_auto_reply.eml", "auto_reply"),
    ("vacation_subject_only.eml", "auto_reply"),
    ("dsn_bounce.eml", "bounce"),
])
async def test_inbound_parse_machine_mail_is_acknowledged_and_never_answered(
        db_url: str, tmp_path: Path, name: str, kind: str) -> None:
    async with email_app(db_url, tmp_path, email_smtp_listen=False) as h:
        raw = fixture(name)
        posted = await h.client.post(INBOUND, headers=basic_auth(), files=[
            ("email", (None, raw)),
            ("envelope", (None, json.dumps({"to": [OUR_ADDRESS], "from": ""
                                            if kind == "bounce" else "x@y.example"}).encode()))])
        assert posted.status_code == 200, posted.text
        assert posted.json() == {"outcome": "machine", "message_id": None,
                                 "conversation_id": None, "machine": kind}
        # Then a person writes; once they are answered, the machine mail still is not.
        fields, files = parsed_form(fixture(GMAIL))
        await h.client.post(INBOUND, data=fields, files=files, headers=basic_auth())
        await h.replies_sent(1)
        assert [m.sender for m in await h.messages()] == [MARIA, OUR_ADDRESS]
        assert [header(m, "To") for m in h.sent_mail()] == [MARIA]


async def test_inbound_parse_over_the_size_limit_is_413(db_url: str, tmp_path: Path) -> None:
    async with email_app(db_url, tmp_path, email_smtp_listen=False,
                         email_max_message_bytes=4096) as h:
        fields, files = parsed_form(fixture("attachments_photo_pdf.eml"))
        response = await h.client.post(INBOUND, data=fields, files=files, headers=basic_auth())
        assert response.status_code == 413
        assert await h.count() == 0


# --- outbound ---------------------------------------------------------------------------------

async def test_replies_go_out_through_sendgrid_with_the_thread_headers(
        db_url: str, tmp_path: Path) -> None:
    posted: list[dict[str, Any]] = []
    fake = FastAPI()

    @fake.post("/v3/mail/send")
    async def mail_send(request: Request) -> Response:
        assert request.headers["authorization"] == "Bearer SG.integration"
        posted.append(json.loads(await request.body()))
        return Response(status_code=202, headers={"X-Message-Id": "sg-accepted-1"})

    async with email_app(db_url, tmp_path) as h:
        await h.channel.sender.transport.close()
        h.channel.sender.transport = SendGridTransport(
            api_key="SG.integration", base_url="http://sendgrid.local",
            http_transport=httpx.ASGITransport(app=fake))
        await smtp_send(h, fixture("apple_iphone_reply.eml"), mail_from="jt.nguyen@icloud.example")
        [reply] = await h.replies_sent(1)
        [body] = posted
        assert body["personalizations"] == [{"to": [{"email": "jt.nguyen@icloud.example"}]}]
        assert body["subject"] == "Re: Outage at 88 Birch Ave"
        iphone_id = "<4F2D9A61-7C3B-4E8A-9D15-0B6E2C7A1F93@icloud.example>"
        assert body["headers"]["In-Reply-To"] == iphone_id
        assert body["headers"]["References"].split() == [
            "<sd.m63.77e0d2b1@riverbend.example>", iphone_id]
        assert body["headers"]["Message-ID"] == reply.external_id
        assert body["content"][0]["value"].strip() == reply.body.strip()


async def test_reply_budget_stops_a_loop_that_slipped_through(db_url: str,
                                                              tmp_path: Path) -> None:
    """A responder that escapes every header check still gets at most `burst` answers."""
    async with email_app(db_url, tmp_path) as h:
        h.channel.sender.budget = ReplyBudget(per_hour=1, burst=3)
        for n in range(5):
            raw = (f"From: Loop Bot <loop@responder.example>\r\nTo: {OUR_ADDRESS}\r\n"
                   f"Subject: Re: ticket\r\nMessage-ID: <loop.{n}@responder.example>\r\n\r\n"
                   f"Thank you for your message number {n}.\r\n").encode()
            await smtp_send(h, raw, mail_from="loop@responder.example")

        async def all_settled() -> bool:
            rows = await h.messages(Message.direction == "outbound")
            return len(rows) == 5 and all(r.status in {"sent", "failed"} for r in rows)
        await wait_for(all_settled)
        rows = await h.messages(Message.direction == "outbound")
        assert sorted(r.status for r in rows) == ["failed", "failed", "sent", "sent", "sent"]
        assert {r.error_code for r in rows if r.status == "failed"} == {"rate_limited"}
        assert len(h.sandbox.sent) == 3


async def test_thread_from_another_address_is_not_merged_into_the_first_conversation(
        db_url: str, tmp_path: Path) -> None:
    """A forwarded thread answered by someone else points at Maria's conversation by its
    headers; it is filed by its own sender, so the stranger never joins her conversation."""
    async with email_app(db_url, tmp_path) as h:
        await smtp_send(h, fixture(GMAIL), mail_from=MARIA)
        [ours] = await h.replies_sent(1)
        [first] = await h.messages(Message.direction == "inbound")
        reply_id = ours.external_id or ""
        raw = (answering(fixture(GMAIL), message_id="<from-spouse@mail.example>",
                         in_reply_to=reply_id, references=reply_id)
               .replace(b"Maria Lopez <Maria.Lopez.Home@gmail.com>",
                        b"Sam Lopez <sam.lopez@mail.example>"))
        email = parse_raw(raw)
        received = await h.channel.receive(email)
        assert received.outcome == "stored"
        assert received.thread_conversation_id == first.conversation_id
        assert received.conversation_id != first.conversation_id
