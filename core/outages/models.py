"""Outage tables: customer reports (the truth) and the outages predicted or confirmed from them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.db import Base, BigId, UTCDateTime
from core.outages.enums import Device, DeviceKind, OutageStatus

# The database, not the code, guarantees one open report per premise and one live outage per
# device, so two workers racing on the same call or prediction cannot both win.
OPEN_REPORT = "cancelled_at IS NULL AND closed_at IS NULL"
ACTIVE_OUTAGE = "status <> 'restored' AND merged_into_id IS NULL"


class Outage(Base):
    __tablename__ = "outages"
    __table_args__ = (
        Index(
            "uq_outages_active_device",
            "device_kind",
            "device_id",
            unique=True,
            sqlite_where=text(ACTIVE_OUTAGE),
            postgresql_where=text(ACTIVE_OUTAGE),
        ),
        Index("ix_outages_status", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    device_kind: Mapped[str] = mapped_column(String(16))  # service_point|transformer|feeder|…
    # Not a foreign key: it points into whichever network table device_kind names.
    device_id: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default=OutageStatus.PREDICTED.value)
    cause: Mapped[str | None] = mapped_column(String(80))
    crew: Mapped[str | None] = mapped_column(String(40))
    customers_affected: Mapped[int] = mapped_column(Integer, default=0)
    etr: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Bumped on every ETR change so a notice for an older ETR is never sent after a newer one.
    etr_version: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    restored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Optimistic concurrency: every UPDATE checks and bumps it (operators and the roll-up race).
    version: Mapped[int] = mapped_column(Integer, default=1)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("outages.id"), index=True)

    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": version}

    @property
    def device(self) -> Device:
        return Device(DeviceKind(self.device_kind), self.device_id)

    @property
    def is_active(self) -> bool:
        return self.status != OutageStatus.RESTORED and self.merged_into_id is None


class OutageReport(Base):
    """One customer's (or meter's, or agent's) word that a premise is out."""

    __tablename__ = "outage_reports"
    __table_args__ = (
        Index(
            "uq_outage_reports_open_premise",
            "premise_id",
            unique=True,
            sqlite_where=text(OPEN_REPORT),
            postgresql_where=text(OPEN_REPORT),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    premise_id: Mapped[int] = mapped_column(ForeignKey("premises.id"), index=True)
    # None when the premise has no electric service point on the network (water, gas …).
    service_point_id: Mapped[int | None] = mapped_column(
        ForeignKey("service_points.id"), index=True
    )
    source: Mapped[str] = mapped_column(String(12))  # customer | last_gasp | agent
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    channel: Mapped[str | None] = mapped_column(String(12))
    hazard: Mapped[str | None] = mapped_column(String(40))
    outage_id: Mapped[int | None] = mapped_column(ForeignKey("outages.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the customer withdrew it
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # its outage was restored

    @property
    def is_open(self) -> bool:
        return self.cancelled_at is None and self.closed_at is None
