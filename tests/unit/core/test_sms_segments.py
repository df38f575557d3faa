"""GSM-7 / UCS-2 segment counts and word-boundary splitting."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from core.conversations.segments import (
    encoding,
    fits,
    segment_count,
    smart_encode,
    split_message,
)


def test_gsm7_limits() -> None:
    assert segment_count("a" * 160) == 1
    assert segment_count("a" * 161) == 2
    assert segment_count("a" * 306) == 2
    assert segment_count("a" * 307) == 3


def test_extension_characters_cost_two_septets_and_never_straddle() -> None:
    assert encoding("€[]{}") == "GSM-7"
    assert segment_count("€" * 80) == 1
    assert segment_count("€" * 81) == 2
    # 152 septets then a 2-septet char: it cannot be split, so it opens segment 2.
    assert segment_count("a" * 152 + "€" + "a" * 10) == 2


def test_one_emoji_makes_the_whole_message_ucs2() -> None:
    assert encoding("Power back on 👍") == "UCS-2"
    assert segment_count("a" * 70) == 1 and segment_count("a" * 69 + "é") == 1
    assert segment_count("a" * 70 + "👍") == 2  # the emoji is two UTF-16 units
    assert segment_count("ñ" * 70 + "ő") == 2


def test_smart_encoding_keeps_curly_quotes_from_doubling_the_cost() -> None:
    text = "We\u2019re on it \u2014 crews are \u201cen route\u201d\u2026"
    assert encoding(text) == "UCS-2"
    assert smart_encode(text) == 'We\'re on it - crews are "en route"...'
    assert encoding(smart_encode(text)) == "GSM-7"


def test_split_breaks_between_words() -> None:
    text = " ".join(["outage"] * 500)
    parts = split_message(text, max_segments=2)
    assert all(fits(p, max_segments=2) for p in parts)
    assert all(p.split() == ["outage"] * len(p.split()) for p in parts)
    assert " ".join(parts) == text


def test_a_word_longer_than_a_message_is_the_only_thing_cut() -> None:
    url = "https://pay.example.org/" + "x" * 400
    parts = split_message(f"Pay here: {url}", max_segments=1)
    assert parts[0] == "Pay here:"
    assert "".join(parts[1:]) == url
    assert all(fits(p, max_segments=1) for p in parts)


@given(st.text(alphabet=st.sampled_from("ab €é👍\n"), max_size=900),
       st.integers(min_value=1, max_value=10))
def test_every_piece_fits_and_no_text_is_lost(text: str, max_segments: int) -> None:
    parts = split_message(text, max_segments=max_segments)
    assert all(fits(p, max_segments=max_segments) for p in parts)
    assert "".join("".join(p.split()) for p in parts) == "".join(text.split())
