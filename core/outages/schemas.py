"""What the outage API takes and returns (operators, integrations, the console)."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from core.enums import Channel
from core.outages.enums import DeviceKind, OutageStatus, ReportSource


class OutageReportCreate(BaseModel):
    premise_id: int
    source: ReportSource = ReportSource.CUSTOMER
    service_point_id: int | None = None
    contact_id: int | None = None
    channel: Channel | None = None
    hazard: str | None = Field(default=None, max_length=40)
    at: AwareDatetime | None = None


class OutageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    device_kind: DeviceKind
    device_id: int
    status: OutageStatus
    cause: str | None
    crew: str | None
    customers_affected: int
    etr: datetime | None
    etr_version: int
    started_at: datetime
    confirmed_at: datetime | None
    restored_at: datetime | None
    updated_at: datetime
    version: int
    merged_into_id: int | None


class OutageReportRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    premise_id: int
    service_point_id: int | None
    source: ReportSource
    contact_id: int | None
    channel: str | None
    hazard: str | None
    outage_id: int | None
    created_at: datetime
    cancelled_at: datetime | None
    closed_at: datetime | None


class ReportOutcomeRead(BaseModel):
    """`created` is False when the premise already had an open report (a repeat call)."""

    report: OutageReportRead
    outage: OutageRead | None
    created: bool


class ConfirmOutage(BaseModel):
    """Confirm an existing outage (by id) or one operations found on a device."""

    device_kind: DeviceKind | None = None
    device_id: int | None = None
    cause: str | None = Field(default=None, max_length=80)
    expected_version: int | None = None


class EtrUpdate(BaseModel):
    etr: AwareDatetime | None
    expected_version: int | None = None


class CauseUpdate(BaseModel):
    cause: str | None = Field(max_length=80)
    expected_version: int | None = None


class CrewUpdate(BaseModel):
    crew: str | None = Field(max_length=40)
    expected_version: int | None = None


class MergeOutages(BaseModel):
    child_id: int
    parent_id: int
