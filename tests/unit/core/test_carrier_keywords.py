"""Which messages are carrier keywords: whole-message, case-insensitive, never fuzzy."""

from __future__ import annotations

import pytest

from core.conversations.compliance import (
    CarrierKeyword,
    carrier_keyword,
    carrier_keyword_from_provider,
    help_text,
)


@pytest.mark.parametrize("text", ["STOP", "stop", " Stop. ", "STOPALL", "stop all",
                                  "unsubscribe", "CANCEL", "end", "Quit!", "revoke", "optout"])
def test_opt_out_words(text: str) -> None:
    assert carrier_keyword(text, opted_out=False) is CarrierKeyword.OPT_OUT


@pytest.mark.parametrize("text", ["stop texting me", "STOPP", "out cancel", "cancel my report",
                                  "the end", "halt"])
def test_not_opt_out(text: str) -> None:
    assert carrier_keyword(text, opted_out=False) is not CarrierKeyword.OPT_OUT


def test_start_words_and_yes_only_when_opted_out() -> None:
    assert carrier_keyword("START", opted_out=False) is CarrierKeyword.OPT_IN
    assert carrier_keyword("unstop", opted_out=True) is CarrierKeyword.OPT_IN
    assert carrier_keyword("yes", opted_out=True) is CarrierKeyword.OPT_IN
    assert carrier_keyword("yes", opted_out=False) is None


def test_help_words() -> None:
    assert carrier_keyword("help", opted_out=False) is CarrierKeyword.HELP
    assert carrier_keyword("INFO", opted_out=True) is CarrierKeyword.HELP
    assert carrier_keyword("help me pay", opted_out=False) is None


def test_twilio_opt_out_type_field() -> None:
    assert carrier_keyword_from_provider("STOP") is CarrierKeyword.OPT_OUT
    assert carrier_keyword_from_provider("start") is CarrierKeyword.OPT_IN
    assert carrier_keyword_from_provider(None) is None


def test_help_text_fits_one_segment_pair_and_names_the_utility() -> None:
    text = help_text(utility_name="Riverbend Public Utilities", utility_phone="+15555550100")
    assert text.startswith("Riverbend Public Utilities:")
    assert "+15555550100" in text and "AGENT" in text and "STOP" in text
