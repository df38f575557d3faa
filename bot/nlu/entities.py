"""Rule-based entities: the values a flow needs (accounts, money, dates, phones, places) are
regular enough that rules beat a learned tagger, and they work the same behind every engine."""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from bot.nlu.base import Entity
from bot.nlu.text import fold
from core.errors import Invalid
from core.phones import to_e164
from core.pii import find_card_numbers

CENT = Decimal("0.01")
_I = re.IGNORECASE

_AMOUNT = re.compile(
    r"\$\s?(?P<n>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<c>\d{1,2}))?(?!\d)"
    r"|(?<![\d.])(?P<n2>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<c2>\d{1,2}))?\s?"
    r"(?:dollars?|bucks|usd|d[oó]lares)\b",
    _I,
)
_STREET_TYPES = (
    "street|st|avenue|ave|road|rd|drive|dr|lane|ln|boulevard|blvd|court|ct|way|place|pl|"
    "parkway|pkwy|highway|hwy|circle|cir|terrace|ter|trail|trl"
)
_ADDRESS = re.compile(
    r"(?<![\w$])\d{1,6}\s+(?:[nsew]\.?\s+)?(?:[a-z][\w'.-]*\s+){0,3}?"
    rf"(?:{_STREET_TYPES})\b\.?"
    r"(?:,?\s*(?:apt|unit|suite|ste|#)\.?\s*#?\w+)?",
    _I,
)
_PHONE_FORMATTED = re.compile(
    r"(?<![\w+])(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?!\d)"
    r"|(?<![\w+])\+\d{8,15}(?!\d)"
)
_ZIP4 = re.compile(r"(?<![\d-])\d{5}-\d{4}(?![\d-])")
_DIGITS = re.compile(r"(?<![\d$.,/-])\d{5,12}(?![\d/]|[.,]\d)")
_ACCOUNT_CONTEXT = re.compile(r"(?:account|acct|acc|cuenta)\W*(?:number|num|no|nr|#)?\W*$", _I)
_PHONE_CONTEXT = re.compile(
    r"(?:phone|cell|mobile|tel|telephone|call|text|tel[eé]fono|celular|n[uú]mero|number)\W*"
    r"(?:is|es|at)?\W*$",
    _I,
)
_ZIP_CONTEXT = re.compile(r"(?:zip|zipcode|postal|c[oó]digo postal|cp)\W*(?:code|is)?\W*$", _I)

_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
_MONTHS["sept"] = 9
_MESES = {
    m: i + 1
    for i, m in enumerate(
        ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"]
    )
}
_WEEKDAYS = {name.lower(): i for i, name in enumerate(calendar.day_name)}
_WEEKDAYS.update({name.lower(): i for i, name in enumerate(calendar.day_abbr)})
_DIAS = dict(zip(["lunes", "martes", "miercoles", "jueves", "viernes", "sabado", "domingo"], range(7), strict=True))
_RELATIVE = {"today": 0, "hoy": 0, "tonight": 0, "tomorrow": 1, "tmrw": 1, "tmr": 1,
             "manana": 1, "yesterday": -1, "ayer": -1}

_MONTH_WORDS = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DATE_MONTH_DAY = re.compile(
    rf"\b(?P<m>{_MONTH_WORDS})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(?P<y>\d{{4}}))?", _I
)
_DATE_DE = re.compile(
    rf"\b(?P<d>\d{{1,2}})\s+de\s+(?P<m>{'|'.join(_MESES)})\b(?:\s+(?:de\s+)?(?P<y>\d{{4}}))?", _I
)
_DATE_ISO = re.compile(r"\b(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})\b")
_DATE_US = re.compile(r"(?<![\d/])(?P<m>\d{1,2})/(?P<d>\d{1,2})(?:/(?P<y>\d{4}|\d{2}))?(?![\d/])")
_DATE_ORDINAL = re.compile(r"\bthe\s+(?P<d>\d{1,2})(?:st|nd|rd|th)\b", _I)
_DATE_WORD = re.compile(
    r"\b(?:(?:next|this|el|este|pr[oó]ximo)\s+)?(?P<w>"
    + "|".join(sorted([*_WEEKDAYS, *_DIAS, *_RELATIVE, "mañana", "miércoles", "sábado"],
                      key=len, reverse=True))
    + r")\b",
    _I,
)

_NICKNAMES = (
    "rental|cabin|shop|store|office|farm|lake house|beach house|duplex|warehouse|barn|garage|"
    "church|restaurant|other house|second home|business|apartment|condo"
)
_NICKNAME = re.compile(rf"\b(?:my|the|our|at)\s+(?P<n>{_NICKNAMES})\b", _I)


def extract_entities(text: str, *, today: date | None = None, region: str = "US") -> tuple[Entity, ...]:
    """All entities in reading order; each character belongs to at most one entity."""
    ref = today or date.today()
    taken: list[tuple[int, int]] = []
    found: list[Entity] = []

    def claim(entity: Entity) -> None:
        taken.append((entity.start, entity.end))
        found.append(entity)

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in taken)

    # Card numbers first, and only ever stored masked.
    for span in find_card_numbers(text):
        claim(Entity("card_number", span.masked, span.start, span.end, span.masked))
    for extractor in (_amounts, _addresses, _phones, _zip4, _digit_runs):
        for entity in extractor(text, region):
            if free(entity.start, entity.end):
                claim(entity)
    for entity in _dates(text, ref):
        if free(entity.start, entity.end):
            claim(entity)
    for m in _NICKNAME.finditer(text):
        if free(m.start("n"), m.end("n")):
            claim(Entity("premise_nickname", m.group("n").lower(), m.start("n"), m.end("n"), m.group("n")))
    return tuple(sorted(found, key=lambda e: e.start))


def parse_amount(raw: str) -> Decimal | None:
    """'$1,204.5' → Decimal('1204.50'); None when it is not money."""
    m = _AMOUNT.search(raw)
    if m is None:
        return None
    return _amount_value(m)


def _amount_value(m: re.Match[str]) -> Decimal | None:
    whole = (m.group("n") or m.group("n2") or "").replace(",", "")
    cents = m.group("c") or m.group("c2") or "0"
    try:
        return Decimal(f"{whole}.{cents.ljust(2, '0')}").quantize(CENT)
    except InvalidOperation:
        return None


def _amounts(text: str, region: str) -> Iterator[Entity]:
    for m in _AMOUNT.finditer(text):
        value = _amount_value(m)
        if value is not None:
            yield Entity("amount", value, m.start(), m.end(), m.group())


def _addresses(text: str, region: str) -> Iterator[Entity]:
    for m in _ADDRESS.finditer(text):
        raw = m.group().rstrip(".,")
        yield Entity("address", " ".join(raw.split()), m.start(), m.start() + len(raw), raw)


def _phones(text: str, region: str) -> Iterator[Entity]:
    for m in _PHONE_FORMATTED.finditer(text):
        phone = _e164(m.group(), region)
        if phone:
            yield Entity("phone", phone, m.start(), m.end(), m.group())


def _zip4(text: str, region: str) -> Iterator[Entity]:
    for m in _ZIP4.finditer(text):
        yield Entity("zip_code", m.group(), m.start(), m.end(), m.group())


def _digit_runs(text: str, region: str) -> Iterator[Entity]:
    """Bare digits: the words before them decide; without any, the shape does."""
    for m in _DIGITS.finditer(text):
        digits, before = m.group(), text[max(0, m.start() - 30):m.start()]
        kind = _digit_kind(digits, before)
        value: object = digits
        if kind == "phone":
            value = _e164(digits, region)
            if value is None:
                kind, value = "account_number", digits
        yield Entity(kind, value, m.start(), m.end(), digits)


def _digit_kind(digits: str, before: str) -> str:
    if _ACCOUNT_CONTEXT.search(before):
        return "account_number"
    if _ZIP_CONTEXT.search(before) and len(digits) == 5:
        return "zip_code"
    if _PHONE_CONTEXT.search(before) and len(digits) >= 10:
        return "phone"
    if len(digits) == 5:
        return "zip_code"
    if _plausible_nanp(digits):
        return "phone"
    return "account_number"


def _plausible_nanp(digits: str) -> bool:
    """A bare 10-digit run (or 1 + 10) is a phone only if area code and exchange can exist."""
    if len(digits) == 11 and digits[0] == "1":
        digits = digits[1:]
    return len(digits) == 10 and digits[0] in "23456789" and digits[3] in "23456789"


def _e164(raw: str, region: str) -> str | None:
    try:
        return to_e164(raw, region)
    except Invalid:
        return None


def _dates(text: str, ref: date) -> Iterator[Entity]:
    finders: list[tuple[re.Pattern[str], Callable[[re.Match[str], date], date | None]]] = [
        (_DATE_ISO, _iso_date),
        (_DATE_MONTH_DAY, _month_day_date),
        (_DATE_DE, _month_day_date),
        (_DATE_US, _us_date),
        (_DATE_ORDINAL, _ordinal_date),
        (_DATE_WORD, _word_date),
    ]
    seen: list[tuple[int, int]] = []
    for pattern, resolve in finders:
        for m in pattern.finditer(text):
            if any(not (m.end() <= s or m.start() >= e) for s, e in seen):
                continue
            value = resolve(m, ref)
            if value is not None:
                seen.append((m.start(), m.end()))
                yield Entity("date", value, m.start(), m.end(), m.group())


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _upcoming(ref: date, month: int, day: int, year: str | None) -> date | None:
    """A date typed without a year is the next one on or after today (people plan ahead)."""
    if year:
        y = int(year)
        return _safe_date(y + 2000 if y < 100 else y, month, day)
    candidate = _safe_date(ref.year, month, day)
    if candidate is not None and candidate < ref:
        candidate = _safe_date(ref.year + 1, month, day)
    return candidate


def _iso_date(m: re.Match[str], ref: date) -> date | None:
    return _safe_date(int(m.group("y")), int(m.group("m")), int(m.group("d")))


def _month_day_date(m: re.Match[str], ref: date) -> date | None:
    word = fold(m.group("m"))
    month = _MONTHS.get(word) or _MESES.get(word)
    return _upcoming(ref, month, int(m.group("d")), m.group("y")) if month else None


def _us_date(m: re.Match[str], ref: date) -> date | None:
    return _upcoming(ref, int(m.group("m")), int(m.group("d")), m.group("y"))


def _ordinal_date(m: re.Match[str], ref: date) -> date | None:
    day = int(m.group("d"))
    candidate = _safe_date(ref.year, ref.month, day)
    if candidate is not None and candidate >= ref:
        return candidate
    nxt = (ref.replace(day=1) + timedelta(days=32)).replace(day=1)
    return _safe_date(nxt.year, nxt.month, day)


def _word_date(m: re.Match[str], ref: date) -> date | None:
    word = fold(m.group("w"))
    if word in _RELATIVE:
        return ref + timedelta(days=_RELATIVE[word])
    weekday = _WEEKDAYS.get(word, _DIAS.get(word))
    if weekday is None:
        return None
    ahead = (weekday - ref.weekday()) % 7 or 7
    return ref + timedelta(days=ahead)
