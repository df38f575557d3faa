"""Outage facts the service returns; the caller publishes them after commit (notices, console)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from core.events import DomainEvent


@dataclass(frozen=True, kw_only=True)
class OutageReported(DomainEvent):
    """A premise reported out; the customer's contact can be subscribed to updates."""

    topic: ClassVar[str] = "outage.reported"
    report_id: int
    premise_id: int
    outage_id: int | None
    source: str
    contact_id: int | None
    at: datetime


@dataclass(frozen=True, kw_only=True)
class OutageReportCancelled(DomainEvent):
    topic: ClassVar[str] = "outage.report_cancelled"
    report_id: int
    premise_id: int
    outage_id: int | None
    at: datetime


@dataclass(frozen=True, kw_only=True)
class OutageEvent(DomainEvent):
    """Every change to one outage carries its version, so a consumer can drop stale updates."""

    outage_id: int
    device_kind: str
    device_id: int
    status: str
    version: int
    at: datetime


@dataclass(frozen=True, kw_only=True)
class OutagePredicted(OutageEvent):
    topic: ClassVar[str] = "outage.predicted"
    customers_affected: int


@dataclass(frozen=True, kw_only=True)
class OutageProbable(OutageEvent):
    topic: ClassVar[str] = "outage.probable"


@dataclass(frozen=True, kw_only=True)
class OutageConfirmed(OutageEvent):
    topic: ClassVar[str] = "outage.confirmed"
    customers_affected: int
    cause: str | None


@dataclass(frozen=True, kw_only=True)
class CrewAssigned(OutageEvent):
    topic: ClassVar[str] = "outage.crew_assigned"
    crew: str | None


@dataclass(frozen=True, kw_only=True)
class CauseChanged(OutageEvent):
    topic: ClassVar[str] = "outage.cause_changed"
    cause: str | None


@dataclass(frozen=True, kw_only=True)
class EtrChanged(OutageEvent):
    """Notices compare `etr_version`, never wall time, to know which ETR is newest."""

    topic: ClassVar[str] = "outage.etr_changed"
    etr: datetime | None
    previous_etr: datetime | None
    etr_version: int


@dataclass(frozen=True, kw_only=True)
class OutagesMerged(DomainEvent):
    """The child's customers now follow the parent outage."""

    topic: ClassVar[str] = "outage.merged"
    child_id: int
    parent_id: int
    customers_affected: int
    at: datetime


@dataclass(frozen=True, kw_only=True)
class OutageRestored(OutageEvent):
    """`withdrawn`: a prediction dropped because every report behind it was cancelled."""

    topic: ClassVar[str] = "outage.restored"
    withdrawn: bool = False
