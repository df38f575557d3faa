"""Machine-written mail is recognised (never answered), and the per-address reply budget."""

from __future__ import annotations

from pathlib import Path

import pytest

from channels.email.loops import ReplyBudget, bounced_recipients, machine_written
from channels.email.parse import ParsedEmail, parse_raw
from core.local.ratelimit import LocalRateLimiter

FIXTURES = Path(__file__).parents[2] / "fixtures" / "email"
OURS = frozenset({"help@riverbend.example"})


def mail(name: str) -> ParsedEmail:
    return parse_raw((FIXTURES / name).read_bytes())


def headers(*lines: str, body: str = "hello") -> bytes:
    head = "\r\n".join(("From: Pat <pat@home.example>", "Subject: Power out", *lines))
    return f"{head}\r\n\r\n{body}\r\n".encode()


@pytest.mark.parametrize("name", [
    "gmail_reply_thread.eml", "outlook_reply.eml", "apple_iphone_reply.eml",
    "apple_iphone_es.eml", "latin1_8bit.eml", "html_only.eml", "attachments_photo_pdf.eml",
])
def test_people_are_people(name: str) -> None:
    assert machine_written(mail(name), own_addresses=OURS) is None


def test_outlook_out_of_office() -> None:
    verdict = machine_written(mail("outlook_auto_reply.eml"), own_addresses=OURS)
    assert verdict is not None and verdict.kind == "auto_reply"
    assert "Auto-Submitted" in verdict.reason


def test_subject_only_spanish_auto_reply() -> None:
    verdict = machine_written(mail("vacation_subject_only.eml"))
    assert verdict is not None and verdict.kind == "auto_reply"


def test_dsn_bounce_and_its_failed_recipient() -> None:
    bounce = mail("dsn_bounce.eml")
    verdict = machine_written(bounce, own_addresses=OURS)
    assert verdict is not None and verdict.kind == "bounce"
    assert verdict.reason == "multipart/report delivery-status"
    assert bounced_recipients(bounce) == ("old.account@defunct-isp.example",)


@pytest.mark.parametrize(("extra", "kind"), [
    (("Auto-Submitted: auto-generated",), "auto_reply"),
    (("Auto-Submitted: auto-replied; owner-email=x@y",), "auto_reply"),
    (("X-Autoreply: yes",), "auto_reply"),
    (("X-Autorespond: Out of office",), "auto_reply"),
    (("Precedence: bulk",), "bulk"),
    (("Precedence: junk",), "bulk"),
    (("Precedence: auto_reply",), "auto_reply"),
    (("List-Id: <news.lists.example>",), "bulk"),
    (("List-Unsubscribe: <mailto:leave@lists.example>",), "bulk"),
    (("Return-Path: <>",), "bounce"),
])
def test_header_signals(extra: tuple[str, ...], kind: str) -> None:
    verdict = machine_written(parse_raw(headers(*extra)))
    assert verdict is not None and verdict.kind == kind


def test_auto_submitted_no_is_a_person() -> None:
    assert machine_written(parse_raw(headers("Auto-Submitted: no"))) is None


def test_null_envelope_sender_is_a_bounce() -> None:
    verdict = machine_written(parse_raw(headers()), envelope_from="")
    assert verdict is not None and verdict.kind == "bounce"
    assert machine_written(parse_raw(headers()), envelope_from="pat@home.example") is None


@pytest.mark.parametrize("sender", [
    "MAILER-DAEMON@mx.example", "postmaster@isp.example", "Mailer-Daemon+bounce@x.example",
])
def test_mail_system_senders(sender: str) -> None:
    raw = f"From: {sender}\r\nSubject: failure\r\n\r\nx\r\n".encode()
    verdict = machine_written(parse_raw(raw))
    assert verdict is not None and verdict.kind == "bounce"


@pytest.mark.parametrize("subject", [
    "Out of Office: Re: your bill", "Automatic reply: Outage", "Auto-Reply: hi",
    "Respuesta automática: Su factura", "RE: [Auto-Reply] Out of office",
    "Undeliverable: Re: Billing question", "Delivery Status Notification (Failure)",
    "Fuera de la oficina",
])
def test_machine_subjects(subject: str) -> None:
    raw = f"From: pat@home.example\r\nSubject: {subject}\r\n\r\nx\r\n".encode()
    assert machine_written(parse_raw(raw)) is not None


@pytest.mark.parametrize("subject", [
    "Absence of power since last night", "Re: reply about my outage", "Vacation hold on service",
    "Auto pay question", "Office building outage",
])
def test_customer_subjects_are_not_auto_replies(subject: str) -> None:
    raw = f"From: pat@home.example\r\nSubject: {subject}\r\n\r\nx\r\n".encode()
    assert machine_written(parse_raw(raw)) is None


def test_our_own_mail_looped_back() -> None:
    raw = b"From: Riverbend <Help@Riverbend.example>\r\nSubject: Re: x\r\n\r\nx\r\n"
    verdict = machine_written(parse_raw(raw), own_addresses=OURS)
    assert verdict is not None and verdict.kind == "own_mail"


async def test_reply_budget_per_address() -> None:
    limiter = LocalRateLimiter()
    budget = ReplyBudget(per_hour=1, burst=3)
    answers = [await budget.allows(limiter, "pat@home.example") for _ in range(4)]
    assert answers == [True, True, True, False]
    # Another address has its own bucket; case does not make a new one.
    assert await budget.allows(limiter, "sam@home.example")
    assert not await budget.allows(limiter, "PAT@home.example")
