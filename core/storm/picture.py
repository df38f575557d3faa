"""The outage picture the bot answers from in a storm, without a database scan per message.

Live outages (a few thousand at most, even in a big storm) are read in one query and kept for
`picture_ttl_s`; a premise's place in the network (service point → transformer → feeder →
substation) is looked up once and remembered. Answering "is my power out?" is then a few
dictionary lookups. Snapshots are read-only stand-ins for an Outage (the bot reads status,
cause, customers_affected and etr from them).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.outages.enums import Device, DeviceKind, OutageStatus
from core.outages.models import Outage
from core.outages.repository import premise_paths


@dataclass(frozen=True, slots=True)
class OutageSnapshot:
    id: int
    device_kind: str
    device_id: int
    status: str
    cause: str | None
    crew: str | None
    customers_affected: int
    etr: datetime | None
    etr_version: int
    started_at: datetime

    @property
    def device(self) -> Device:
        return Device(DeviceKind(self.device_kind), self.device_id)

    @property
    def is_active(self) -> bool:
        return self.status != OutageStatus.RESTORED


class OutagePicture:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, ttl_s: float = 5.0,
                 max_premises: int = 200_000) -> None:
        self.sessions = sessions
        self.ttl_s = ttl_s
        self.max_premises = max_premises
        self._by_device: dict[Device, OutageSnapshot] = {}
        self._outages: list[OutageSnapshot] = []
        self._read_at: float | None = None
        self._paths: OrderedDict[int, tuple[Device, ...]] = OrderedDict()
        self._lock = asyncio.Lock()
        self.database_reads = 0  # for tests and the dashboard: what a storm costs us

    async def outage_for_premise(self, premise_id: int) -> OutageSnapshot | None:
        """The most specific live outage on the premise's network path (its root after merges)."""
        await self._fresh()
        devices = self._paths.get(premise_id)
        if devices is None:
            devices = await self._path_of(premise_id)
        else:
            self._paths.move_to_end(premise_id)
        for device in devices:
            found = self._by_device.get(device)
            if found is not None:
                return found
        return None

    async def live_outages(self) -> list[OutageSnapshot]:
        await self._fresh()
        return list(self._outages)

    def invalidate(self) -> None:
        self._read_at = None

    async def _fresh(self) -> None:
        loop = asyncio.get_running_loop()
        if self._read_at is not None and loop.time() - self._read_at < self.ttl_s:
            return
        async with self._lock:
            if self._read_at is not None and loop.time() - self._read_at < self.ttl_s:
                return
            async with self.sessions() as session:
                rows = (await session.scalars(select(Outage).where(
                    Outage.status != OutageStatus.RESTORED.value))).all()
            self.database_reads += 1
            by_id = {o.id: o for o in rows}
            snapshots = {o.id: _snapshot(o) for o in rows}
            by_device: dict[Device, OutageSnapshot] = {}
            for outage in rows:
                root = outage
                seen = {root.id}
                while root.merged_into_id is not None and root.merged_into_id in by_id \
                        and root.merged_into_id not in seen:
                    root = by_id[root.merged_into_id]
                    seen.add(root.id)
                if root.merged_into_id is None:
                    by_device[outage.device] = snapshots[root.id]
            self._by_device = by_device
            self._outages = [snapshots[o.id] for o in rows if o.merged_into_id is None]
            self._read_at = loop.time()

    async def _path_of(self, premise_id: int) -> tuple[Device, ...]:
        async with self.sessions() as session:
            paths = await premise_paths(session, premise_id)
        self.database_reads += 1
        devices: list[Device] = []
        for level in range(4):  # most specific first, across all the premise's meters
            for path in paths:
                device_id = path[level]
                if device_id is not None:
                    devices.append(Device(_KINDS[level], device_id))
        found = tuple(devices)
        self._paths[premise_id] = found
        if len(self._paths) > self.max_premises:
            self._paths.popitem(last=False)
        return found


_KINDS = (DeviceKind.SERVICE_POINT, DeviceKind.TRANSFORMER, DeviceKind.FEEDER,
          DeviceKind.SUBSTATION)


def _snapshot(outage: Outage) -> OutageSnapshot:
    return OutageSnapshot(id=outage.id, device_kind=outage.device_kind,
                          device_id=outage.device_id, status=outage.status, cause=outage.cause,
                          crew=outage.crew, customers_affected=outage.customers_affected,
                          etr=outage.etr, etr_version=outage.etr_version,
                          started_at=outage.started_at)
