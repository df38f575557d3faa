"""Customer API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.pii import FreeText


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["phone", "email"]
    value: str = Field(min_length=3, max_length=254)
    is_primary: bool = False
    language: str | None = Field(default=None, max_length=5)
    preferred_channel: Literal["sms", "whatsapp", "voice", "webchat", "email"] = "sms"
    outage_alerts: bool = True


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["person", "business"] = "person"
    first_name: str | None = Field(default=None, max_length=80)
    last_name: str | None = Field(default=None, max_length=80)
    business_name: str | None = Field(default=None, max_length=160)
    mailing_address: FreeText | None = Field(default=None, max_length=200)
    mailing_city: str | None = Field(default=None, max_length=80)
    mailing_state: str | None = Field(default=None, min_length=2, max_length=2)
    mailing_zip: str | None = Field(default=None, pattern=r"^\d{5}(-\d{4})?$")
    language: str = Field(default="en", max_length=5)
    contacts: list[ContactIn] = Field(default_factory=list, max_length=10)

    @model_validator(mode="after")
    def _named(self) -> CustomerIn:
        if self.kind == "business" and not self.business_name:
            raise ValueError("a business customer needs business_name")
        if self.kind == "person" and not self.last_name:
            raise ValueError("a person needs last_name")
        return self


class ContactOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    value: str
    is_primary: bool
    language: str
    preferred_channel: str
    outage_alerts: bool


class AccountBrief(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    number: str
    kind: str
    status: str


class CustomerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    display_name: str
    first_name: str | None
    last_name: str | None
    business_name: str | None
    mailing_zip: str | None
    language: str
    created_at: datetime
    contacts: list[ContactOut] = Field(default_factory=list)
    accounts: list[AccountBrief] = Field(default_factory=list)
