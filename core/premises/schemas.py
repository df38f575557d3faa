"""Premise API shapes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.enums import ServiceKind
from core.pii import FreeText


class PremiseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: FreeText = Field(min_length=1, max_length=200)
    unit: str | None = Field(default=None, max_length=20)
    city: str = Field(min_length=1, max_length=80)
    state: str = Field(min_length=2, max_length=2)
    zip: str = Field(pattern=r"^\d{5}(-\d{4})?$")
    kind: Literal["residential", "commercial"] = "residential"
    nickname: str | None = Field(default=None, max_length=40)
    account_id: int | None = Field(default=None, gt=0)
    services: list[ServiceKind] = Field(default_factory=list, max_length=6)


class ServiceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    status: str
    account_id: int | None


class PremiseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    account_id: int | None
    kind: str
    address: str
    unit: str | None
    city: str
    state: str
    zip: str
    nickname: str | None
    services: list[ServiceOut] = Field(default_factory=list)
