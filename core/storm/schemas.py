"""Storm mode in and out of the API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from core.pii import FreeText


class StormSwitchIn(BaseModel):
    active: bool
    # Whether the report rate may switch it from now on; unset keeps the current setting.
    auto: bool | None = None
    message: FreeText | None = Field(default=None, max_length=300)
    reason: FreeText | None = Field(default=None, max_length=200)


class StormStateOut(BaseModel):
    active: bool
    auto: bool
    source: str
    message: str
    greeting: str
    changed_by: str | None
    changed_at: datetime | None
    reason: str | None
    version: int
    reports_last_minute: int
    on_rpm: float
    off_rpm: float
