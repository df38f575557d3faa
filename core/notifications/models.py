"""Notice tables: one batch per outage update, one notice row per address per update (outbox).

The unique key (address, outage_id, kind, version) is what makes a restart, a second relay or
a killed worker unable to send the same update twice: the row exists once, and every status
change is a guarded UPDATE (`WHERE status = …`) that only one process can win.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.db import Base, BigId, UTCDateTime


class NoticeKind(StrEnum):
    INITIAL = "initial"  # "we know your power is out"
    ETR = "etr"  # the estimated restoration time moved meaningfully
    RESTORATION = "restoration"  # "power is back; reply OFF if you are still out"


class NoticeStatus(StrEnum):
    PENDING = "pending"  # planned, waiting for the relay
    HELD_QUIET_HOURS = "held_quiet_hours"  # non-urgent, waits for the end of quiet hours
    QUEUED = "queued"  # on the durable queue
    SENDING = "sending"  # one worker claimed it and is talking to the provider
    SENT = "sent"  # the provider accepted it
    DELIVERED = "delivered"  # the provider's callback says it arrived
    FAILED = "failed"  # the provider refused it for good (or its fate is unknown)
    SUPERSEDED = "superseded"  # a newer update for the same outage made it pointless
    SKIPPED_OPTED_OUT = "skipped_opted_out"  # STOP or unsubscribed between plan and send
    DEAD = "dead"  # gave up after repeated transient failures


# Rows the relay may still move, and a newer update may still supersede.
UNSENT = (NoticeStatus.PENDING, NoticeStatus.HELD_QUIET_HOURS, NoticeStatus.QUEUED)
FINAL = frozenset({NoticeStatus.SENT, NoticeStatus.DELIVERED, NoticeStatus.FAILED,
                   NoticeStatus.SUPERSEDED, NoticeStatus.SKIPPED_OPTED_OUT, NoticeStatus.DEAD})


class NoticeBatch(Base):
    """One update of one outage that customers are told about; unique, so planning twice
    (the event handler and the catch-up sweep, two workers) plans once."""

    __tablename__ = "notice_batches"
    __table_args__ = (UniqueConstraint("outage_id", "kind", "version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    outage_id: Mapped[int] = mapped_column(ForeignKey("outages.id"))
    kind: Mapped[str] = mapped_column(String(12))
    # ETR notices: the outage's etr_version; initial and restoration: 0 (one each per outage).
    version: Mapped[int] = mapped_column(Integer, default=0)
    # The ETR this update told customers (what the next ETR change is measured against).
    etr: Mapped[datetime | None] = mapped_column(UTCDateTime)
    urgent: Mapped[bool] = mapped_column(Boolean, default=True)
    planned: Mapped[int] = mapped_column(Integer, default=0)
    trigger: Mapped[str] = mapped_column(String(40))  # the event (or sweep) that planned it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Notice(Base):
    """One message to one address about one outage update (the outbox row)."""

    __tablename__ = "notices"
    __table_args__ = (
        UniqueConstraint("address", "outage_id", "kind", "version", name="uq_notices_key"),
        Index("ix_notices_status_not_before", "status", "not_before"),
        Index("ix_notices_outage_id_kind_status", "outage_id", "kind", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Not foreign keys beyond the batch: 100,000 inserts in one statement should not pay for
    # checks the INSERT … SELECT already guarantees (the rows come from those tables).
    batch_id: Mapped[int] = mapped_column(ForeignKey("notice_batches.id"), index=True)
    outage_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(12))
    version: Mapped[int] = mapped_column(Integer, default=0)
    # The channel address exactly as a sender takes it: E.164, whatsapp:+1…, or an email.
    address: Mapped[str] = mapped_column(String(254))
    channel: Mapped[str] = mapped_column(String(12))
    contact_id: Mapped[int | None] = mapped_column(BigInteger)
    customer_id: Mapped[int | None] = mapped_column(BigInteger)
    premise_id: Mapped[int | None] = mapped_column(BigInteger)
    language: Mapped[str] = mapped_column(String(5), default="en")
    urgent: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(20), default=NoticeStatus.PENDING.value)
    # Quiet hours and retry back-off: the relay leaves the row alone until then.
    not_before: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    sender: Mapped[str | None] = mapped_column(String(64))  # the From it went out on
    # Rendered when claimed, from the outage as it is then: an ETR is never older than the
    # newest one the customer could already have seen.
    body: Mapped[str | None] = mapped_column(Text)
    # The outage's etr_version the body was rendered from: no notice may go out telling an
    # older ETR than one this address was already sent (checked in the claim's SQL).
    told_etr_version: Mapped[int | None] = mapped_column(Integer)
    provider_id: Mapped[str | None] = mapped_column(String(64))
    error_code: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
