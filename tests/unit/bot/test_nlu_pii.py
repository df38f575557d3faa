"""Card numbers are masked wherever they are typed; account numbers and phones are left alone."""

from __future__ import annotations

import pytest

from core.pii import contains_card_number, find_card_numbers, luhn_valid, mask_card_numbers

MASKED_1111 = "•••• •••• •••• 1111"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4111111111111111", MASKED_1111),
        ("4111 1111 1111 1111", MASKED_1111),
        ("4111-1111-1111-1111", MASKED_1111),
        ("card: 4111 1111 1111 1111 exp 12/27 cvv 123", f"card: {MASKED_1111} exp 12/27 cvv 123"),
        ("cc4111111111111111", f"cc{MASKED_1111}"),
        ("amex 3782 822463 10005", "amex •••• •••• •••• 0005"),
        ("5500005555555559 and 4012888888881881",
         "•••• •••• •••• 5559 and •••• •••• •••• 1881"),
        ("6011 0009 9013 9424.", "•••• •••• •••• 9424."),
    ],
)
def test_luhn_valid_card_numbers_are_masked(text: str, expected: str) -> None:
    assert mask_card_numbers(text) == expected
    assert contains_card_number(text)


@pytest.mark.parametrize(
    "text",
    [
        "account 40098812",
        "my account number is 4009881234",
        "call 217-555-0142",
        "4111111111111112",  # one digit off: fails Luhn
        "1234 5678 9012 3456",
        "pay $1,204.50 on 6/1/2025",
        "zip 62704-1234",
        "meter 123456789015",  # Luhn-valid but only 12 digits
        "",
    ],
)
def test_other_numbers_are_left_alone(text: str) -> None:
    assert mask_card_numbers(text) == text
    assert not contains_card_number(text)


def test_a_card_inside_a_longer_digit_run_is_still_found() -> None:
    spans = find_card_numbers("ref 99 4111 1111 1111 1111 7")
    assert [s.last4 for s in spans] == ["1111"]


def test_luhn() -> None:
    assert luhn_valid("79927398713")
    assert not luhn_valid("79927398710")
    assert not luhn_valid("4111a")
