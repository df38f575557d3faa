"""Card numbers typed into any channel are masked before they are stored or shown (PCI DSS)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator

MASK = "•"
MIN_PAN_DIGITS = 13
MAX_PAN_DIGITS = 19

# Runs of digit groups joined by single spaces, dashes or dots: "4111 1111-1111 1111". Letters
# may touch a run ("cc4111…"): masking too much is cheap, leaking a card number is not.
_DIGIT_RUN = re.compile(r"(?<!\d)\d+(?:[ \-.]\d+)*(?!\d)")
_GROUP = re.compile(r"\d+")


@dataclass(frozen=True, slots=True)
class CardSpan:
    """Where a card-like number sits in a text, and its last four digits (all that may be kept)."""

    start: int
    end: int
    last4: str

    @property
    def masked(self) -> str:
        return f"{MASK * 4} {MASK * 4} {MASK * 4} {self.last4}"


def luhn_valid(digits: str) -> bool:
    """The mod-10 check every payment card number passes and most other digit runs fail."""
    if not digits.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def find_card_numbers(text: str) -> list[CardSpan]:
    """Luhn-valid 13–19 digit runs, also when split into groups or next to other numbers."""
    spans: list[CardSpan] = []
    for run in _DIGIT_RUN.finditer(text):
        groups = [(m.start() + run.start(), m.end() + run.start()) for m in _GROUP.finditer(run.group())]
        spans.extend(_cards_in_groups(text, groups))
    return spans


def _cards_in_groups(text: str, groups: list[tuple[int, int]]) -> list[CardSpan]:
    """Longest Luhn-valid window of whole groups from each start; a card never ends mid-group."""
    found: list[CardSpan] = []
    i = 0
    while i < len(groups):
        best: tuple[int, str] | None = None
        digits = ""
        for j in range(i, len(groups)):
            digits += text[groups[j][0]:groups[j][1]]
            if len(digits) > MAX_PAN_DIGITS:
                break
            if len(digits) >= MIN_PAN_DIGITS and luhn_valid(digits):
                best = (j, digits)
        if best is None:
            i += 1
            continue
        j, digits = best
        found.append(CardSpan(start=groups[i][0], end=groups[j][1], last4=digits[-4:]))
        i = j + 1
    return found


def mask_card_numbers(text: str) -> str:
    """Replace each card-like number with "•••• •••• •••• 1234"; everything else stays."""
    spans = find_card_numbers(text)
    if not spans:
        return text
    out: list[str] = []
    cursor = 0
    for span in spans:
        out.append(text[cursor:span.start])
        out.append(span.masked)
        cursor = span.end
    out.append(text[cursor:])
    return "".join(out)


def contains_card_number(text: str) -> bool:
    return bool(find_card_numbers(text))


# A free-text field from outside (a memo, a reason, a note, a message): card numbers masked
# the moment it is parsed, so no table, audit record or log line ever holds one in clear.
FreeText = Annotated[str, AfterValidator(mask_card_numbers)]
