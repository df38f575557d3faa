"""A cheap language guess so a customer who switches to Spanish is answered in Spanish."""

from __future__ import annotations

import re

_SPANISH = {
    "hola", "luz", "apagón", "apagon", "sin", "tengo", "pagar", "cuánto", "cuanto", "debo",
    "factura", "cuenta", "gracias", "por", "favor", "quiero", "hablar", "persona", "agua",
    "corriente", "saldo", "pago", "plan", "ayuda", "cuando", "cuándo", "vuelve", "se", "fue",
    "está", "esta", "estoy", "mi", "mí", "el", "la", "los", "las", "una", "un", "que", "qué",
    "sí", "si", "no", "hay", "cable", "caído", "caido", "olor", "huele", "mudanza", "mudo",
    "necesito", "puedo", "dividir", "pagos", "servicio", "medidor", "fuga", "buenas", "buenos",
    "días", "dias", "tardes", "noches", "adiós", "adios", "ustedes", "tiene", "nada", "todavía",
}
_ENGLISH = {
    "the", "my", "is", "out", "power", "no", "i", "have", "bill", "pay", "how", "much", "what",
    "when", "will", "be", "back", "please", "thanks", "thank", "you", "can", "a", "to", "it",
    "hi", "hello", "agent", "person", "water", "gas", "owe", "balance", "need", "want", "yes",
    "still", "down", "line", "wire", "smell", "moving", "leak", "meter", "since", "on", "in",
}
_WORD = re.compile(r"[a-záéíóúñü]+")


def guess_language(text: str, current: str = "en") -> str:
    """Switch only on clear evidence; short replies like "si"/"no" keep the current language."""
    words = _WORD.findall(text.lower())
    if len(words) < 2:
        if any(ch in text.lower() for ch in "ñ¿¡áéíóú") and words:
            return "es"
        return current
    es = sum(w in _SPANISH for w in words) + 2 * sum(ch in text for ch in "ñ¿¡áéíóú")
    en = sum(w in _ENGLISH for w in words)
    if es >= 2 and es > en:
        return "es"
    if en >= 2 and en > es:
        return "en"
    return current
