"""Which language a customer writes in, so replies can follow: English or Spanish, by word votes."""

from __future__ import annotations

from bot.nlu.text import words


def _wordset(block: str) -> frozenset[str]:
    return frozenset(block.split())


_SPANISH = _wordset("""
    el la los las de del que y en un una mi mis tu su es esta estoy son hay por para con sin no si
    se fue ya luz agua gas cuenta factura pago pagar pagos quiero necesito tengo puedo como cuando
    cuanto cual donde porque hola gracias buenos buenas dias tardes noches adios ayuda servicio
    medidor fuga cable calle casa nueva mudo mudanza saldo debo hablar persona todavia aun volvio
    regreso apagon lectura cargo recibo alto muy mas tiempo plan arreglo agente representante
    huele mucho vuelve hace tiene olor poste cables caido quiero hablar mudanza mudo
""")
_ENGLISH = _wordset("""
    the an my is are was i you we it of to for on in at and or not no yes what when why how
    power out bill pay balance service water gas meter leak agent please thanks thank hi hello
    can do does have has me our your this that there with from back still need want help
    smell wire line down owe bill due moving
""")
_SPANISH_MARKS = frozenset("ñ¿¡")


def detect_language(text: str) -> str | None:
    """'es', 'en', or None when the text gives no sign either way ("OK", "12345")."""
    if any(mark in text.casefold() for mark in _SPANISH_MARKS):
        return "es"
    toks = words(text)
    spanish = sum(t in _SPANISH for t in toks)
    english = sum(t in _ENGLISH for t in toks)
    if spanish > english:
        return "es"
    if english > spanish:
        return "en"
    return "es" if any(c in text for c in "áéíóúÁÉÍÓÚ") else None
