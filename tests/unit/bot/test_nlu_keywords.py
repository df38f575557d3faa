"""The SMS keyword grammar: every command, its typos, and carrier opt-out words kept exact."""

from __future__ import annotations

import string
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.nlu.keywords import (
    CARRIER_OPT_IN,
    CARRIER_OPT_OUT,
    COMMANDS,
    match_keyword,
    parse_keyword,
)

ALIASES = {word for cmd in COMMANDS for word in cmd.aliases}


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("OUT", "report_outage"),
        ("out", "report_outage"),
        ("  Out!  ", "report_outage"),
        ("OUT CANCEL", "cancel_outage_report"),
        ("out cancel", "cancel_outage_report"),
        ("Out  Cancel.", "cancel_outage_report"),
        ("STAT", "outage_status"),
        ("STATUS", "outage_status"),
        ("status?", "outage_status"),
        ("BAL", "check_balance"),
        ("Balance", "check_balance"),
        ("BALANCE", "check_balance"),
        ("PAY", "make_payment"),
        ("REG", "register"),
        ("NICK", "nickname"),
        ("AGENT", "talk_to_agent"),
        ("HELP", "help"),
        ("INFO", "help"),
        ("ESTADO", "outage_status"),
        ("SALDO", "check_balance"),
        ("PAGAR", "make_payment"),
        ("AYUDA", "help"),
        ("AGENTE", "talk_to_agent"),
    ],
)
def test_commands_are_exact_matches(text: str, intent: str) -> None:
    match = parse_keyword(text)
    assert match is not None
    assert match.result.intent == intent
    assert match.result.engine == "keywords"
    assert match.result.confidence == 1.0
    assert match.exact and not match.carrier


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("OTU", "report_outage"),
        ("uot", "report_outage"),
        ("STATS", "outage_status"),
        ("staus", "outage_status"),
        ("stauts", "outage_status"),
        ("statsu", "outage_status"),
        ("balence", "check_balance"),
        ("balanse", "check_balance"),
        ("blance", "check_balance"),
        ("AGNET", "talk_to_agent"),
        ("agen", "talk_to_agent"),
        ("agnt", "talk_to_agent"),
        ("aegnt", "talk_to_agent"),
        ("pya", "make_payment"),
        ("paymnet", "make_payment"),
        ("regsiter", "register"),
        ("registr", "register"),
        ("hlep", "help"),
        ("halp", "help"),
        ("out cancle", "cancel_outage_report"),
        ("out cancl", "cancel_outage_report"),
        ("outcancel", "cancel_outage_report"),
    ],
)
def test_safe_typos_are_tolerated_but_marked(text: str, intent: str) -> None:
    match = parse_keyword(text)
    assert match is not None, text
    assert match.result.intent == intent
    assert match.result.confidence < 1.0 or not match.exact


@pytest.mark.parametrize("word", sorted(CARRIER_OPT_OUT))
@pytest.mark.parametrize("form", ["{}", "{u}", "{t}", " {u} ", "{u}.", "{u}!"])
def test_every_carrier_opt_out_word_opts_out(word: str, form: str) -> None:
    text = form.format(word, u=word.upper(), t=word.title())
    match = parse_keyword(text)
    assert match is not None
    assert match.result.intent == "opt_out"
    assert match.carrier


def _one_edit_variants(word: str) -> set[str]:
    letters = string.ascii_lowercase
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {a + b[1:] for a, b in splits if b}
    swaps = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    replaces = {a + c + b[1:] for a, b in splits if b for c in letters}
    inserts = {a + c + b for a, b in splits for c in letters}
    return (deletes | swaps | replaces | inserts) - {word}


@pytest.mark.parametrize("word", sorted(CARRIER_OPT_OUT | CARRIER_OPT_IN))
def test_carrier_words_are_never_fuzzy_in_either_direction(word: str) -> None:
    """A typo of STOP is not STOP, and no typo of STOP turns into another command either;
    only a variant that is itself a correctly spelled command word may match (START → STAT)."""
    for variant in _one_edit_variants(word):
        if variant in CARRIER_OPT_OUT | CARRIER_OPT_IN:
            continue
        match = parse_keyword(variant, opted_out=True)
        if match is None:
            continue
        assert match.result.intent not in ("opt_out", "opt_in"), variant
        assert not match.carrier, variant
        assert variant in ALIASES or variant in {"y", "n", "no", "ye"} or match.exact, variant


@pytest.mark.parametrize("text", ["stop please", "please stop", "STOP STOP", "stop texting me",
                                  "opt out", "opt-out", "cancel my service", "end chat"])
def test_carrier_words_in_a_sentence_are_not_keywords(text: str) -> None:
    match = parse_keyword(text)
    assert match is None or match.result.intent != "opt_out"


@given(st.text(alphabet=string.ascii_letters + " .!?-", max_size=12))
def test_nothing_but_an_exact_carrier_word_opts_out(text: str) -> None:
    result = match_keyword(text)
    if result is not None and result.intent == "opt_out":
        assert text.strip(" .!?-").lower() in CARRIER_OPT_OUT


def test_yes_opts_in_only_when_the_sender_is_opted_out() -> None:
    assert match_keyword("YES").intent == "affirm"
    assert match_keyword("yes", opted_out=True).intent == "opt_in"
    assert parse_keyword("Yes", opted_out=True).carrier


@pytest.mark.parametrize("word", ["START", "start", "Unstop", "UNSTOP."])
def test_start_and_unstop_opt_in(word: str) -> None:
    assert match_keyword(word).intent == "opt_in"


def test_y_and_n_answer_a_question() -> None:
    assert match_keyword("Y").intent == "affirm"
    assert match_keyword("n").intent == "deny"
    assert match_keyword("Sí").intent == "affirm"


@pytest.mark.parametrize("text", ["OFF", "off", "still out", "Still out!", "still no power",
                                  "sigo sin luz"])
def test_off_after_a_restoration_notice_is_a_nested_outage(text: str) -> None:
    after = match_keyword(text, after_restoration=True)
    assert after is not None and after.intent == "report_outage" and after.nested
    before = match_keyword(text)
    assert before is not None and before.intent == "report_outage" and not before.nested


def test_out_after_a_restoration_notice_is_nested_too() -> None:
    assert match_keyword("OUT", after_restoration=True).nested
    assert not match_keyword("OUT CANCEL", after_restoration=True).nested


@pytest.mark.parametrize(
    ("text", "name", "index"),
    [
        ("NICK home", "home", None),
        ("nick Lake House", "Lake House", None),
        ("NICK 2 cabin", "cabin", 2),
        ("nickname The Shop!", "The Shop", None),
    ],
)
def test_nick_names_a_premise(text: str, name: str, index: int | None) -> None:
    result = match_keyword(text)
    assert result is not None and result.intent == "nickname"
    assert result.entity("premise_nickname").value == name
    got_index = result.entity("premise_index")
    assert (got_index.value if got_index else None) == index


def test_nickname_is_cut_to_the_column_length() -> None:
    result = match_keyword("NICK " + "x" * 80)
    assert len(result.entity("premise_nickname").value) == 40


@pytest.mark.parametrize(
    ("text", "intent", "entity", "value"),
    [
        ("OUT 2", "report_outage", "premise_index", 2),
        ("OUT home", "report_outage", "premise_nickname", "home"),
        ("STAT cabin", "outage_status", "premise_nickname", "cabin"),
        ("BAL rental", "check_balance", "premise_nickname", "rental"),
        ("PAY 50", "make_payment", "amount", Decimal("50.00")),
        ("PAY $42.10", "make_payment", "amount", Decimal("42.10")),
        ("REG 40098812 62704", "register", "account_number", "40098812"),
        ("REG 40098812 62704", "register", "zip_code", "62704"),
        ("reg (217) 555-0142 62704", "register", "phone", "+12175550142"),
    ],
)
def test_command_arguments_become_entities(text: str, intent: str, entity: str,
                                           value: object) -> None:
    result = match_keyword(text)
    assert result is not None and result.intent == intent
    assert result.entity(entity).value == value


def test_politeness_does_not_change_a_command() -> None:
    assert match_keyword("AGENT please").intent == "talk_to_agent"
    assert match_keyword("pay pls").intent == "make_payment"
    assert parse_keyword("AGENT now").exact


@pytest.mark.parametrize(
    "text",
    ["", "   ", "?!", "hello", "out of power", "pay my bill", "help me with my bill",
     "status of my outage", "power is out", "our", "but", "put", "ball", "reggae", "stat of the art x y z"],
)
def test_sentences_and_near_words_are_not_commands(text: str) -> None:
    assert match_keyword(text) is None


def test_spanish_commands_say_so() -> None:
    assert match_keyword("SALDO").language == "es"
    assert match_keyword("BAL").language == "en"
