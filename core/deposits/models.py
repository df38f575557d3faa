"""Security deposits: required, billed, held, applied or refunded."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, BigId


class Deposit(Base):
    __tablename__ = "deposits"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    required_cents: Mapped[int] = mapped_column(BigInteger)
    paid_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(12), default="required")  # required|held|refunded|applied|waived
    reason: Mapped[str] = mapped_column(String(120))
    required_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date | None] = mapped_column(Date)
    refund_review_on: Mapped[date | None] = mapped_column(Date)
