"""Quoted history, signatures and footers stripped before NLU, on real-shaped client output."""

from __future__ import annotations

from pathlib import Path

import pytest

from channels.email.clean import clean_body
from channels.email.parse import parse_raw

FIXTURES = Path(__file__).parents[2] / "fixtures" / "email"


def cleaned(name: str) -> str:
    return clean_body(parse_raw((FIXTURES / name).read_bytes()).body)


def test_gmail_reply_loses_signature_and_wrapped_attribution() -> None:
    assert cleaned("gmail_reply_thread.eml") == (
        "The power is still out at my house and now the basement sump pump isn't running. "
        "Is there an estimate for when it will be back?\n\nThanks,\nMaria"
    )


def test_outlook_reply_loses_footer_and_original_message() -> None:
    text = cleaned("outlook_reply.eml")
    assert text.startswith("Hi – I’d like to split the $412.50 past-due balance")
    assert text.endswith("Facilities Manager | Harbor Logistics")
    assert "CONFIDENTIALITY" not in text and "From:" not in text


def test_iphone_sent_from_and_quote() -> None:
    assert cleaned("apple_iphone_reply.eml") == (
        "Lights are flickering again on the whole block and I can smell something burning "
        "near the transformer by the alley."
    )


def test_spanish_iphone_and_unquoted_attribution() -> None:
    assert cleaned("apple_iphone_es.eml") == (
        "Todavía no tengo luz en la casa. ¿Cuándo regresa el servicio?"
    )


def test_html_gmail_quote_is_dropped_too() -> None:
    html_body = (
        "Yes please call me.\n\n> On Tue, Mar 5, 2024 at 8:00 AM Riverbend <help@r.example> "
        "wrote:\n> > Shall we call you?"
    )
    assert clean_body(html_body) == "Yes please call me."


def test_bottom_posted_answer_survives() -> None:
    body = ("On Tue, Mar 5, 2024 at 8:00 AM Riverbend <help@r.example> wrote:\n"
            "> What is your account number?\n\n4400-1187, thanks")
    assert clean_body(body) == "4400-1187, thanks"


def test_interleaved_answers_keep_the_customer_lines() -> None:
    body = "> Your name?\nPat Lee\n> Your address?\n12 Oak St\n"
    assert clean_body(body) == "Pat Lee\n12 Oak St"


@pytest.mark.parametrize("separator", [
    "-----Original Message-----",
    "----- Mensaje original -----",
    "-----Mensaje original-----",
])
def test_outlook_original_message_separators(separator: str) -> None:
    body = f"Call me at 555-0101.\n\n{separator}\nFrom: Riverbend\nSent: today\n\nOld text"
    assert clean_body(body) == "Call me at 555-0101."


def test_spanish_outlook_header_block() -> None:
    body = ("Sí, por favor.\n\nDe: Riverbend <help@r.example>\nEnviado: lunes, 4 de marzo\n"
            "Para: Ana\nAsunto: Cita\n\nTexto anterior")
    assert clean_body(body) == "Sí, por favor."


@pytest.mark.parametrize("signoff", [
    "Sent from my iPhone", "Sent from my Galaxy", "Sent from Outlook for Android",
    "Get Outlook for iOS", "Enviado desde mi iPhone", "Enviado desde mi Samsung Galaxy",
    "Sent from Yahoo Mail for iPhone", "--", "-- ",
])
def test_mobile_signatures_and_delimiters(signoff: str) -> None:
    assert clean_body(f"No power on Elm.\n\n{signoff}\nJ. Smith\n555-0100") == "No power on Elm."


def test_legal_footer_spanish() -> None:
    body = ("Necesito un plan de pagos.\n\nAVISO DE CONFIDENCIALIDAD: Este mensaje es para uso "
            "exclusivo del destinatario.")
    assert clean_body(body) == "Necesito un plan de pagos."


def test_ordinary_words_are_not_taken_for_markers() -> None:
    body = ("From: my kitchen window I can see the pole is down.\n"
            "I sent from my phone earlier but got no answer.\n"
            "The information in this email is about my meter.")
    assert clean_body(body) == body


def test_a_message_that_is_only_quote_is_empty() -> None:
    assert clean_body("> quoted\n> only\n") == ""
