"""Carrier opt-out state, per address: STOP from a number blocks every later send to it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.db import Base, BigId, UTCDateTime


class OptOut(Base):
    __tablename__ = "opt_outs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    address: Mapped[str] = mapped_column(String(254), unique=True)  # E.164 or email
    opted_out: Mapped[bool] = mapped_column(Boolean, default=True)
    keyword: Mapped[str | None] = mapped_column(String(16))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
