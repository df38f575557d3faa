"""Service orders: start, stop (final bill), transfer, meter re-read, leak adjustment."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.db import Base, BigId, UTCDateTime


class ServiceOrder(Base):
    __tablename__ = "service_orders"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # start|stop|transfer|meter_reread|leak_adjustment
    status: Mapped[str] = mapped_column(String(12), default="open")  # open|completed|cancelled
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    premise_id: Mapped[int | None] = mapped_column(ForeignKey("premises.id"), index=True)
    requested_for: Mapped[date | None] = mapped_column(Date)
    fee_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(80), default="system")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
