"""Text normalisation shared by the tiers: SMS is shouted, accented, punctuated and mistyped."""

from __future__ import annotations

import re
import unicodedata

_APOSTROPHES = re.compile(r"['’`´]")
_NON_WORD = re.compile(r"[^\w$]+")
_SPACES = re.compile(r"\s+")
_EDGE_PUNCT = re.compile(r"^[\W_]+|[\W_]+$")


def fold(text: str) -> str:
    """Lowercase without accents ("Sí" → "si"), so Spanish typed without accents still matches."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """Folded word tokens; apostrophes vanish ("power's" → "powers"), other punctuation splits."""
    cleaned = _NON_WORD.sub(" ", _APOSTROPHES.sub("", fold(text)))
    return cleaned.split()


def strip_edges(text: str) -> str:
    """Trim whitespace and punctuation around a message ("Stop." → "Stop"), never inside it."""
    return _EDGE_PUNCT.sub("", _SPACES.sub(" ", text.strip()))


def edit_distance(a: str, b: str, limit: int = 2) -> int:
    """Damerau–Levenshtein (adjacent transpositions count 1), cut off above `limit` for speed."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]
