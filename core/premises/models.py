"""Premises (places served), their service points (meters on the network) and services."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Boolean, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, BigId


class Premise(Base):
    __tablename__ = "premises"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # The account billed for this premise now; None while vacant.
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="residential")
    address: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str | None] = mapped_column(String(20))
    city: Mapped[str] = mapped_column(String(80))
    state: Mapped[str] = mapped_column(String(2))
    zip: Mapped[str] = mapped_column(String(10), index=True)
    nickname: Mapped[str | None] = mapped_column(String(40))


class ServicePoint(Base):
    __tablename__ = "service_points"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    premise_id: Mapped[int] = mapped_column(ForeignKey("premises.id"), index=True)
    service_kind: Mapped[str] = mapped_column(String(16))
    meter_number: Mapped[str] = mapped_column(String(32), unique=True)
    smart_meter: Mapped[bool] = mapped_column(Boolean, default=False)
    # Electric service points sit under a transformer; others are not on the outage network.
    transformer_id: Mapped[int | None] = mapped_column(ForeignKey("transformers.id"), index=True)


class Service(Base):
    __tablename__ = "services"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    premise_id: Mapped[int] = mapped_column(ForeignKey("premises.id"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    rate_code: Mapped[str] = mapped_column(String(16), default="RES")
    status: Mapped[str] = mapped_column(String(12), default="active")  # active | pending | stopped
    started_on: Mapped[date | None] = mapped_column(Date)
    stopped_on: Mapped[date | None] = mapped_column(Date)
