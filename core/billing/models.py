"""The ledger (the balance is its sum, never stored) and the bills behind the charges."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, Numeric, String, text
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.db import Base, BigId, UTCDateTime


class Bill(Base):
    __tablename__ = "bills"
    __table_args__ = (Index("ix_bills_account_due", "account_id", "due_on"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    issued_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    amount_cents: Mapped[int] = mapped_column(BigInteger)


class BillLine(Base):
    """One service's usage and charge on a bill: what a billing question is answered from."""

    __tablename__ = "bill_lines"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bill_id: Mapped[int] = mapped_column(ForeignKey("bills.id", ondelete="CASCADE"), index=True)
    service_kind: Mapped[str] = mapped_column(String(16))
    usage: Mapped[float] = mapped_column(Numeric(12, 2))
    unit: Mapped[str] = mapped_column(String(8))  # kWh | gal | therm | —
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    estimated_read: Mapped[bool] = mapped_column(default=False)


class LedgerEntry(Base):
    """Signed cents: positive means the customer owes more, negative means less."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        Index("ix_ledger_account_posted", "account_id", "posted_at"),
        # Idempotent payments: a processor's reference is posted once, whatever retries.
        Index(
            "uq_ledger_entries_payment_reference",
            "reference",
            unique=True,
            sqlite_where=text("kind = 'payment' AND reference IS NOT NULL"),
            postgresql_where=text("kind = 'payment' AND reference IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    # charge | payment | adjustment | deposit | fee | reversal | refund | writeoff
    kind: Mapped[str] = mapped_column(String(16))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    bill_id: Mapped[int | None] = mapped_column(ForeignKey("bills.id"))
    # A reversal points at what it reverses; unique, so nothing is reversed twice.
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"), unique=True)
    method: Mapped[str | None] = mapped_column(String(12))  # card | ach | check | cash
    reference: Mapped[str | None] = mapped_column(String(64))
    memo: Mapped[str | None] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(80), default="system")
    quantity: Mapped[int | None] = mapped_column(Integer)
    # Why the entry exists, for rules that count them: nsf_return, nsf_fee, reread_fee,
    # leak_credit, final_bill, deposit_charge.
    code: Mapped[str | None] = mapped_column(String(24))
