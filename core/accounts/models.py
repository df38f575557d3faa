"""Accounts: who pays, and the collection and credit state around them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.db import Base, BigId, UTCDateTime


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="residential")  # | commercial
    status: Mapped[str] = mapped_column(String(12), default="active")  # pending|active|final|closed
    opened_on: Mapped[date] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)
    credit_rating: Mapped[str] = mapped_column(String(8), default="none")  # good|fair|poor|none
    cash_only: Mapped[bool] = mapped_column(Boolean, default=False)
    energy_assistance: Mapped[bool] = mapped_column(Boolean, default=False)
    medical_hold_until: Mapped[date | None] = mapped_column(Date)
    bankruptcy_filed_on: Mapped[date | None] = mapped_column(Date)
    bankruptcy_chapter: Mapped[int | None] = mapped_column(Integer)
    # none → late_notice → disconnect_notice → disconnect_list → agency → written_off
    collection_stage: Mapped[str] = mapped_column(String(20), default="none")
    collection_stage_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disconnect_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    disconnect_hold_reason: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
