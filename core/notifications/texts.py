"""What a notice says, in the contact's language. Rendered when the notice is claimed, from the
outage as it is then, so a notice never carries an ETR older than one already announced.

Short on purpose and in plain GSM-7 (no accents, so Spanish stays GSM too): one SMS segment
of 160 characters for a utility name of up to ~30 characters, because a storm is when
carriers and customers both least want multi-part texts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from core.notifications.models import NoticeKind


@dataclass(frozen=True, slots=True)
class OutageFacts:
    """The part of an outage a notice mentions."""

    outage_id: int
    status: str
    etr: datetime | None
    etr_version: int
    cause: str | None
    customers_affected: int


_TEXTS: dict[str, dict[NoticeKind, str]] = {
    "en": {
        NoticeKind.INITIAL: "{utility}: power outage in your area ({customers} customers"
                            "{cause}). {etr_en} Text STAT for updates.",
        NoticeKind.ETR: "{utility}: new estimate for restoring your power: {etr}. "
                        "Text STAT for status.",
        NoticeKind.RESTORATION: "{utility}: power has been restored in your area. "
                                "Reply OFF if you are still out.",
    },
    "es": {
        NoticeKind.INITIAL: "{utility}: corte de luz en su zona ({customers} clientes"
                            "{cause}). {etr_es} Envie STAT para novedades.",
        NoticeKind.ETR: "{utility}: nueva hora estimada para restablecer su luz: {etr}. "
                        "Envie STAT.",
        NoticeKind.RESTORATION: "{utility}: la luz se restablecio en su zona. "
                                "Responda OFF si sigue sin luz.",
    },
}


def local_etr(etr: datetime | None, timezone: str) -> str | None:
    if etr is None:
        return None
    local = etr.astimezone(ZoneInfo(timezone))
    hour = local.strftime("%I:%M %p").lstrip("0")
    return f"{hour} {local.strftime('%a %b')} {local.day}"


def render(kind: NoticeKind, facts: OutageFacts, *, language: str, utility: str,
           timezone: str) -> str:
    texts = _TEXTS.get((language or "en")[:2], _TEXTS["en"])
    etr = local_etr(facts.etr, timezone)
    return texts[kind].format(
        utility=utility,
        customers=f"{facts.customers_affected:,}",
        cause=f", {facts.cause}" if facts.cause else "",
        etr=etr or "not yet known",
        etr_en=f"Est. restoration {etr}." if etr else "Crews are assessing.",
        etr_es=f"Hora estimada {etr}." if etr else "Estamos evaluando.",
    )
