from __future__ import annotations

from core.logging import redact


def test_phone_email_card_and_account_numbers_are_masked() -> None:
    line = "from +15045550123 mail jane.doe@example.com card 4111 1111 1111 1111 acct 10004567"
    out = redact(line)
    assert "+15045550123" not in out and out.count("+***23") == 1
    assert "jane.doe@example.com" not in out and "j***@example.com" in out
    assert "4111" not in out and "[card]" in out
    assert "10004567" not in out and "***67" in out


def test_short_numbers_and_words_survive() -> None:
    assert redact("outage at 3pm, 42 customers, ETR 18:30") == "outage at 3pm, 42 customers, ETR 18:30"
