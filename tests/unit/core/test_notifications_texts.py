"""Notice texts: one SMS segment, the ETR in the utility's local time, both languages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.conversations.segments import fits
from core.notifications.models import NoticeKind
from core.notifications.texts import OutageFacts, render

FACTS = OutageFacts(outage_id=7, status="confirmed", etr=datetime(2026, 8, 29, 23, 30, tzinfo=UTC),
                    etr_version=2, cause="tree on line", customers_affected=123_456)


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("kind", list(NoticeKind))
def test_every_notice_is_one_gsm_segment(kind: NoticeKind, language: str) -> None:
    text = render(kind, FACTS, language=language, utility="Riverbend Public Utilities",
                  timezone="America/Chicago")
    assert len(text) <= 160 and all(ord(c) < 128 for c in text), text
    assert fits(text)


def test_etr_in_local_time_and_restoration_invites_off() -> None:
    initial = render(NoticeKind.INITIAL, FACTS, language="en", utility="RPU",
                     timezone="America/Chicago")
    assert "6:30 PM Sat Aug 29" in initial and "123,456 customers, tree on line" in initial
    unknown = render(NoticeKind.INITIAL, OutageFacts(1, "probable", None, 0, None, 40),
                     language="es", utility="RPU", timezone="America/Chicago")
    assert "Estamos evaluando" in unknown
    assert "Reply OFF" in render(NoticeKind.RESTORATION, FACTS, language="en", utility="RPU",
                                 timezone="America/Chicago")
