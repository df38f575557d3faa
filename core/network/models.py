"""The distribution network: substation → feeder → transformer (service points hang below)."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, BigId


class Substation(Base):
    __tablename__ = "substations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))


class Feeder(Base):
    __tablename__ = "feeders"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    substation_id: Mapped[int] = mapped_column(ForeignKey("substations.id"), index=True)


class Transformer(Base):
    __tablename__ = "transformers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    feeder_id: Mapped[int] = mapped_column(ForeignKey("feeders.id"), index=True)
