"""The outage vocabulary shared by the engine, the tables and the API (stored as string values)."""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class DeviceKind(StrEnum):
    SERVICE_POINT = "service_point"
    TRANSFORMER = "transformer"
    FEEDER = "feeder"
    SUBSTATION = "substation"


# Height in the network: a device at a higher level covers everything below it.
LEVEL: dict[DeviceKind, int] = {
    DeviceKind.SERVICE_POINT: 0,
    DeviceKind.TRANSFORMER: 1,
    DeviceKind.FEEDER: 2,
    DeviceKind.SUBSTATION: 3,
}


class OutageStatus(StrEnum):
    PREDICTED = "predicted"
    PROBABLE = "probable"
    CONFIRMED = "confirmed"
    CREW_ASSIGNED = "crew_assigned"
    RESTORED = "restored"


# Statuses the roll-up may still merge or withdraw; anything operations touched is final.
UNCONFIRMED = frozenset({OutageStatus.PREDICTED, OutageStatus.PROBABLE})


class ReportSource(StrEnum):
    CUSTOMER = "customer"
    LAST_GASP = "last_gasp"  # a smart meter's dying message counts as a customer report
    AGENT = "agent"


class Device(NamedTuple):
    """One piece of equipment on the network; a tuple so it hashes fast in the engine's maps."""

    kind: DeviceKind
    id: int

    @property
    def level(self) -> int:
        return LEVEL[self.kind]
