"""Storm mode as one system row, so every process (API, workers) agrees on it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.db import Base, UTCDateTime

STORM_ROW = 1


class StormState(Base):
    __tablename__ = "storm_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    # Whether the report rate may switch it (on above the threshold, off after a calm spell).
    auto: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(String(16), default="auto")  # supervisor | auto
    # What the phone line and the bot say first while it is on; empty: the built-in text.
    message: Mapped[str] = mapped_column(Text, default="")
    changed_by: Mapped[str | None] = mapped_column(String(80))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reason: Mapped[str | None] = mapped_column(String(200))
    # Since when the report rate has been below the off threshold (the hysteresis clock).
    calm_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=0)
