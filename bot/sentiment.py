"""Is the customer upset? A lexicon is enough to decide to offer a person sooner."""

from __future__ import annotations

import re

_ANGRY = re.compile(
    r"\b(ridiculous|unacceptable|furious|angry|pissed|wtf|useless|stupid|idiot|scam|"
    r"worst|terrible|horrible|sue|lawyer|complaint|fed up|sick of|enough|"
    r"ridículo|ridiculo|inaceptable|furioso|enojado|harto|inútil|inutil|pésimo|pesimo|"
    r"estafa|demanda|abogado|queja)\b",
    re.IGNORECASE,
)


def sentiment(text: str) -> str:
    """'angry', or 'neutral'. Shouting (mostly capitals, long enough) counts too."""
    letters = [c for c in text if c.isalpha()]
    shouting = len(letters) >= 12 and sum(c.isupper() for c in letters) / len(letters) > 0.8
    if _ANGRY.search(text) or (shouting and "!" in text):
        return "angry"
    return "neutral"
