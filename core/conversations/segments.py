"""SMS segment arithmetic (GSM-7 / UCS-2), so long replies split between words, not mid-word.

Carriers bill and deliver SMS in segments: 160 GSM-7 septets or 70 UCS-2 code units in one
segment; once concatenated, each segment carries 153 septets or 67 units (the rest is the
concatenation header). One character outside GSM-7 (an emoji, a curly quote pasted from a
word processor) turns the whole message into UCS-2 and more than doubles its segment count,
which is why replies are smart-encoded first. Twilio refuses bodies over 1,600 characters.
"""

from __future__ import annotations

import re
from typing import Literal

# GSM 03.38 default alphabet (one septet each), without ESC.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each costs two septets (ESC + the character), and the pair can never
# be split across two segments.
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67
TWILIO_MAX_CHARS = 1600
DEFAULT_MAX_SEGMENTS = 10  # Twilio's guidance: longer bodies deliver less reliably

Encoding = Literal["GSM-7", "UCS-2"]

# What Twilio's "smart encoding" swaps for GSM-7 look-alikes; doing it here keeps our segment
# count equal to what the customer's phone (and the bill) will see.
_SMART = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u2013": "-", "\u2014": "-", "\u2012": "-", "\u2010": "-", "\u2011": "-", "\u2212": "-",
    "\u00a0": " ", "\u2002": " ", "\u2003": " ", "\u2009": " ", "\u202f": " ",
    "\u2026": "...", "\u00b7": "-", "\u2022": "-", "\t": " ",
})


def smart_encode(text: str) -> str:
    return text.translate(_SMART)


def encoding(text: str) -> Encoding:
    if all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in text):
        return "GSM-7"
    return "UCS-2"


def _units(text: str, enc: Encoding) -> list[int]:
    """Cost of each character in the encoding's units (septets, or UTF-16 code units)."""
    if enc == "GSM-7":
        return [2 if c in GSM7_EXTENDED else 1 for c in text]
    return [2 if ord(c) > 0xFFFF else 1 for c in text]


def segment_count(text: str) -> int:
    if not text:
        return 1
    enc = encoding(text)
    units = _units(text, enc)
    single, part = (GSM7_SINGLE, GSM7_PART) if enc == "GSM-7" else (UCS2_SINGLE, UCS2_PART)
    if sum(units) <= single:
        return 1
    count, used = 1, 0
    for cost in units:
        if used + cost > part:  # a character's units never straddle two segments
            count += 1
            used = 0
        used += cost
    return count


def utf16_length(text: str) -> int:
    return sum(2 if ord(c) > 0xFFFF else 1 for c in text)


def fits(text: str, *, max_segments: int = DEFAULT_MAX_SEGMENTS,
         max_chars: int = TWILIO_MAX_CHARS) -> bool:
    return utf16_length(text) <= max_chars and segment_count(text) <= max_segments


_TOKENS = re.compile(r"\S+|\s+")


def split_message(text: str, *, max_segments: int = DEFAULT_MAX_SEGMENTS,
                  max_chars: int = TWILIO_MAX_CHARS) -> list[str]:
    """Cut `text` into as few messages as fit, breaking at whitespace; a single word longer
    than a whole message (a pasted URL) is the only thing ever cut inside."""
    text = text.strip()
    if fits(text, max_segments=max_segments, max_chars=max_chars):
        return [text]
    parts: list[str] = []
    current = ""
    for token in _TOKENS.findall(text):
        candidate = current + token
        if fits(candidate.rstrip(), max_segments=max_segments, max_chars=max_chars):
            current = candidate
            continue
        if current.strip():
            parts.append(current.strip())
        current = "" if token.isspace() else token
        while current and not fits(current, max_segments=max_segments, max_chars=max_chars):
            cut = _longest_prefix(current, max_segments=max_segments, max_chars=max_chars)
            parts.append(current[:cut])
            current = current[cut:]
    if current.strip():
        parts.append(current.strip())
    return parts


def _longest_prefix(word: str, *, max_segments: int, max_chars: int) -> int:
    lo, hi = 1, len(word)
    while lo < hi:  # binary search: fits() is monotonic in the prefix length
        mid = (lo + hi + 1) // 2
        if fits(word[:mid], max_segments=max_segments, max_chars=max_chars):
            lo = mid
        else:
            hi = mid - 1
    return lo
