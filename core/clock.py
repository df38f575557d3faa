"""Time is timezone-aware UTC inside; a clock port lets tests and simulations move time."""

from __future__ import annotations

from datetime import UTC, date, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def today() -> date:
    return utcnow().date()


def ensure_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime: every time inside Stormdesk is timezone-aware UTC")
    return value.astimezone(UTC)
