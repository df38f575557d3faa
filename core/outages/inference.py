"""Incremental roll-up of outage reports up the network, the way outage management systems do it.

The engine keeps counters per device and updates them along one service point's path, so a
report costs O(depth), never a rescan. It touches no database: it returns plain decisions
(predict, promote, merge, withdraw) that `service.py` applies. It is a cache of DB state:
open reports and active outages are the truth, and `service.py` rebuilds it from them.
"""

from __future__ import annotations

import heapq
import itertools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from core.outages.enums import UNCONFIRMED, Device, DeviceKind, OutageStatus
from core.outages.policy import RollupPolicy

Path = tuple[Device, Device, Device, Device]  # service point, transformer, feeder, substation


class TopologyChanged(ValueError):
    """A device moved under another parent: the engine must be rebuilt, not patched."""


class Topology:
    """The network as the engine sees it: each service point's path and customers per device."""

    __slots__ = ("_children", "_customers", "_parent", "_paths")

    def __init__(self) -> None:
        self._paths: dict[int, Path] = {}
        self._parent: dict[Device, Device] = {}
        self._customers: dict[Device, int] = {}
        self._children: dict[Device, int] = {}

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[int | None, int | None, int | None, int]]) -> Topology:
        """Rows of (service_point_id, transformer_id, feeder_id, substation_id), outer-join nulls."""
        topology = cls()
        for service_point_id, transformer_id, feeder_id, substation_id in rows:
            topology.add(
                substation_id=substation_id,
                feeder_id=feeder_id,
                transformer_id=transformer_id,
                service_point_id=service_point_id,
            )
        return topology

    def add(
        self,
        *,
        substation_id: int,
        feeder_id: int | None = None,
        transformer_id: int | None = None,
        service_point_id: int | None = None,
    ) -> None:
        substation = Device(DeviceKind.SUBSTATION, substation_id)
        self._customers.setdefault(substation, 0)
        if feeder_id is None:
            return
        feeder = Device(DeviceKind.FEEDER, feeder_id)
        self._link(feeder, substation)
        if transformer_id is None:
            return
        transformer = Device(DeviceKind.TRANSFORMER, transformer_id)
        self._link(transformer, feeder)
        if service_point_id is None:
            return
        service_point = Device(DeviceKind.SERVICE_POINT, service_point_id)
        if service_point_id in self._paths:
            self._link(service_point, transformer)  # raises if it moved
            return
        self._link(service_point, transformer)
        path = (service_point, transformer, feeder, substation)
        self._paths[service_point_id] = path
        for device in path:
            self._customers[device] += 1

    def _link(self, child: Device, parent: Device) -> None:
        known = self._parent.get(child)
        if known == parent:
            return
        if known is not None:
            raise TopologyChanged(f"{child} moved from {known} to {parent}")
        self._parent[child] = parent
        self._children[parent] = self._children.get(parent, 0) + 1
        self._customers.setdefault(child, 0)

    def path(self, service_point_id: int) -> Path | None:
        return self._paths.get(service_point_id)

    def parent(self, device: Device) -> Device | None:
        return self._parent.get(device)

    def ancestors(self, device: Device) -> tuple[Device, ...]:
        """Bottom-up: parent first, substation last."""
        chain: list[Device] = []
        parent = self._parent.get(device)
        while parent is not None:
            chain.append(parent)
            parent = self._parent.get(parent)
        return tuple(chain)

    def customers(self, device: Device) -> int:
        if device.kind is DeviceKind.SERVICE_POINT:
            return 1
        return self._customers.get(device, 0)

    def children(self, device: Device) -> int:
        return self._children.get(device, 0)

    def __contains__(self, device: object) -> bool:
        return device in self._customers

    @property
    def service_points(self) -> int:
        return len(self._paths)


@dataclass(frozen=True, slots=True)
class Predict:
    """Open a predicted outage on `device`; attach the open reports below it."""

    device: Device
    at: datetime
    customers: int


@dataclass(frozen=True, slots=True)
class Promote:
    """A prediction has stood long enough to be called probable."""

    device: Device
    at: datetime


@dataclass(frozen=True, slots=True)
class Merge:
    """Fold the outage on `child` into the one on `parent` (its reports move along)."""

    child: Device
    parent: Device
    customers: int
    at: datetime


@dataclass(frozen=True, slots=True)
class Withdraw:
    """Every report behind an unconfirmed prediction was cancelled: the power is back."""

    device: Device
    at: datetime


Decision = Predict | Promote | Merge | Withdraw


class _Cover:
    """One active outage: its own device plus devices merged into it."""

    __slots__ = ("customers", "device", "devices", "since", "status")

    def __init__(self, device: Device, status: OutageStatus, customers: int, since: datetime):
        self.device = device
        self.status = status
        self.devices: set[Device] = {device}
        self.customers = customers
        self.since = since


class InferenceEngine:
    """Predicts outages from reports; one per topology, fed every report, cancel and ops action."""

    def __init__(self, topology: Topology, policy: RollupPolicy | None = None) -> None:
        self.topology = topology
        self.policy = policy or RollupPolicy()
        self._reports: dict[int, datetime] = {}  # service point → time of its open report
        # Service points whose report is inside the window → path level of the outage holding
        # it (1 = its transformer or below, None = not held: unexplained evidence).
        self._recent: dict[int, int | None] = {}
        self._expiry: list[tuple[datetime, int]] = []
        self._open_under: defaultdict[Device, set[int]] = defaultdict(set)
        self._recent_count: defaultdict[Device, int] = defaultdict(int)
        # Recent reports under a device already explained by an outage at or below it.
        self._held: defaultdict[Device, int] = defaultdict(int)
        # Children with recent reports no outage explains yet (how spread the evidence is).
        self._free_children: defaultdict[Device, int] = defaultdict(int)
        # Children whose outage began inside the window: outages starting together point to
        # one cause upstream; scattered ones hours apart do not.
        self._fresh_out: defaultdict[Device, int] = defaultdict(int)
        self._entered: dict[Device, datetime] = {}  # fresh covered devices → when they went out
        self._aging: list[tuple[datetime, Device]] = []
        self._covers: dict[Device, _Cover] = {}
        self._owners_below: defaultdict[Device, set[Device]] = defaultdict(set)
        self._promotions: list[tuple[datetime, int, _Cover]] = []
        self._sequence = itertools.count()
        self._now: datetime | None = None

    # -- reports ---------------------------------------------------------------------------

    def add_report(self, service_point_id: int, at: datetime) -> list[Decision]:
        """Count one report along its path and predict whatever it tips over."""
        path = self._record(service_point_id, at)
        if path is None:
            return []
        return self._evaluate(path[1:], at)

    def cancel_report(self, service_point_id: int, at: datetime) -> list[Decision]:
        """The customer's power is back: uncount the report; maybe withdraw its prediction."""
        path = self.topology.path(service_point_id)
        if path is None or service_point_id not in self._reports:
            return []
        self._advance(at)
        self._forget(service_point_id, path)
        cover = self._lowest_cover(path)
        if (
            cover is not None
            and self.policy.withdraw_when_all_cancelled
            and cover.status in UNCONFIRMED
            and not self._has_reports(cover)
        ):
            self._close(cover)
            return [Withdraw(cover.device, at)]
        return []

    def load_report(self, service_point_id: int, at: datetime) -> None:
        """Rebuild: count an open report from the database without predicting anything."""
        self._record(service_point_id, at)

    # -- time ------------------------------------------------------------------------------

    def tick(self, now: datetime) -> list[Decision]:
        """Expire reports outside the window and promote predictions that have stood long enough."""
        self._advance(now)
        decisions: list[Decision] = []
        while self._promotions and self._promotions[0][0] <= now:
            due, _, cover = heapq.heappop(self._promotions)
            if self._covers.get(cover.device) is cover and cover.status is OutageStatus.PREDICTED:
                cover.status = OutageStatus.PROBABLE
                decisions.append(Promote(cover.device, due))
        return decisions

    # -- operations ------------------------------------------------------------------------

    def confirm(self, device: Device, at: datetime) -> list[Decision]:
        """Operations say `device` is out: it is never re-predicted, merged away or withdrawn."""
        self._advance(at)
        cover = self._covers.get(device)
        if cover is not None and cover.device == device:
            if cover.status in UNCONFIRMED:
                cover.status = OutageStatus.CONFIRMED
            return []
        if cover is not None:  # it was merged into another outage: split it out on its own
            cover.devices.discard(device)
            cover.customers = self._customers_of(cover.devices)
        cover = self._open(device, OutageStatus.CONFIRMED, at)
        decisions: list[Decision] = list(self._absorb_below(cover, at, created=()))
        decisions.extend(self._evaluate(self.topology.ancestors(device), at))
        return decisions

    def restore(self, device: Device) -> list[int]:
        """Close the outage on `device` and the reports it held; returns their service points."""
        cover = self._covers.get(device)
        if cover is None:
            return []
        closed = list(self._reports_of(cover))
        for service_point_id in closed:
            path = self.topology.path(service_point_id)
            if path is not None:
                self._forget(service_point_id, path)
        self._close(cover)
        return closed

    def merge(self, child: Device, parent: Device, at: datetime) -> list[Decision]:
        """Operations fold one outage into another, even across the network."""
        child_cover = self._covers.get(child)
        parent_cover = self._covers.get(parent)
        if child_cover is None or parent_cover is None or child_cover is parent_cover:
            return []
        self._absorb(child_cover, parent_cover)
        return [Merge(child_cover.device, parent_cover.device, parent_cover.customers, at)]

    def load_outage(
        self,
        device: Device,
        status: OutageStatus,
        since: datetime,
        merged: Iterable[Device] = (),
        customers: int | None = None,
    ) -> None:
        """Rebuild: register an active outage (and the devices merged into it) from the database."""
        cover = self._open(device, status, since)
        for alias in merged:
            self._set_cover(alias, cover, since)
            cover.devices.add(alias)
            self._rehold_under(alias)
        cover.customers = customers if customers is not None else self._customers_of(cover.devices)

    # -- questions -------------------------------------------------------------------------

    def outage_device_for(self, service_point_id: int) -> Device | None:
        """The device whose outage holds this service point (the most specific one), if any."""
        path = self.topology.path(service_point_id)
        cover = self._lowest_cover(path) if path is not None else None
        return cover.device if cover is not None else None

    def covering(self, device: Device) -> Device | None:
        """The device whose outage covers `device`, itself or an ancestor."""
        for candidate in (device, *self.topology.ancestors(device)):
            cover = self._covers.get(candidate)
            if cover is not None:
                return cover.device
        return None

    def outages(self) -> dict[Device, OutageStatus]:
        """Active outages by their own device."""
        return {d: c.status for d, c in self._covers.items() if c.device == d}

    def customers_affected(self, device: Device) -> int:
        cover = self._covers.get(device)
        return cover.customers if cover is not None else 0

    def has_open_report(self, service_point_id: int) -> bool:
        return service_point_id in self._reports

    @property
    def open_reports(self) -> int:
        return len(self._reports)

    # -- counting --------------------------------------------------------------------------

    def _record(self, service_point_id: int, at: datetime) -> Path | None:
        path = self.topology.path(service_point_id)
        if path is None or service_point_id in self._reports:
            return None
        self._advance(at)
        self._reports[service_point_id] = at
        for device in path[1:]:
            self._open_under[device].add(service_point_id)
        assert self._now is not None
        if at >= self._now - self.policy.window:
            held = self._hold_level(path)
            self._recent[service_point_id] = held
            self._count(path, 1, None, held)
            heapq.heappush(self._expiry, (at, service_point_id))
        return path

    def _forget(self, service_point_id: int, path: Path) -> None:
        del self._reports[service_point_id]
        for device in path[1:]:
            self._open_under[device].discard(service_point_id)
        if service_point_id in self._recent:
            self._count(path, -1, self._recent.pop(service_point_id), None)

    def _count(self, path: Path, delta: int, held_before: int | None, held_after: int | None) -> None:
        """Move one recent report along its path: counted or not, explained from which level."""
        recent, held = self._recent_count, self._held
        for level in (1, 2, 3):
            device = path[level]
            free_before = recent[device] - held[device]
            recent[device] += delta
            held[device] += (held_after is not None and level >= held_after) - (
                held_before is not None and level >= held_before
            )
            free_after = recent[device] - held[device]
            if level < 3 and (free_before > 0) != (free_after > 0):
                self._free_children[path[level + 1]] += 1 if free_after > 0 else -1

    def _hold_level(self, path: Path) -> int | None:
        covers = self._covers
        for level, device in enumerate(path):
            if device in covers:
                return max(level, 1)  # a service point's own outage is held at its transformer
        return None

    def _rehold_under(self, device: Device) -> None:
        """A device just got an outage: the recent reports below it are now explained by it."""
        for service_point_id in list(self._service_points_under(device)):
            if service_point_id not in self._recent:
                continue
            path = self.topology.path(service_point_id)
            assert path is not None
            before, after = self._recent[service_point_id], self._hold_level(path)
            if before != after:
                self._recent[service_point_id] = after
                self._count(path, 0, before, after)

    def _advance(self, now: datetime) -> None:
        if self._now is None or now > self._now:
            self._now = now
        cutoff = self._now - self.policy.window
        aging = self._aging
        while aging and aging[0][0] < cutoff:
            at, device = heapq.heappop(aging)
            if self._entered.get(device) == at:
                self._unfresh(device)
        expiry = self._expiry
        while expiry and expiry[0][0] < cutoff:
            at, service_point_id = heapq.heappop(expiry)
            if service_point_id in self._recent and self._reports.get(service_point_id) == at:
                path = self.topology.path(service_point_id)
                assert path is not None
                self._count(path, -1, self._recent.pop(service_point_id), None)

    # -- prediction ------------------------------------------------------------------------

    def _evaluate(self, chain: tuple[Device, ...], at: datetime) -> list[Decision]:
        """Walk a bottom-up chain of devices ending at the top; predict what the counters tip."""
        covers = self._covers
        start = 0
        for index in range(len(chain) - 1, -1, -1):
            if chain[index] in covers:
                start = index + 1  # it and all below it are out already: never re-predicted
                break
        created: list[_Cover] = []
        for device in chain[start:]:
            if self._qualifies(device):
                created.append(self._open(device, OutageStatus.PREDICTED, at))
        if not created:
            return []
        top = created[-1]  # each later one sits above the earlier ones and absorbs them
        decisions: list[Decision] = [Predict(top.device, at, top.customers)]
        decisions.extend(self._absorb_below(top, at, created=created))
        return decisions

    def _qualifies(self, device: Device) -> bool:
        # Only reports no known outage explains are evidence: calls from under a transformer
        # that is already out do not predict its feeder a second time.
        policy = self.policy
        reports = self._recent_count.get(device, 0) - self._held.get(device, 0)
        customers = self.topology.customers(device)
        if device.kind is DeviceKind.TRANSFORMER:
            return reports >= policy.transformer_min_reports or (
                reports > 0 and reports >= policy.transformer_min_share * customers - 1e-9
            )
        if device.kind is DeviceKind.FEEDER:
            min_children, min_share = policy.feeder_min_transformers, policy.feeder_min_share
        elif device.kind is DeviceKind.SUBSTATION:
            min_children, min_share = policy.substation_min_feeders, policy.substation_min_share
        else:
            return False  # a single service point is confirmed by operations, never predicted
        if self._fresh_out.get(device, 0) >= min_children:
            return True
        if reports == 0:
            return False
        # Under a device with a single child the child explains the same customers better.
        return (
            self._free_children.get(device, 0) >= policy.min_reporting_children
            and reports >= min_share * customers - 1e-9
        )

    def _absorb_below(
        self, cover: _Cover, at: datetime, *, created: Iterable[_Cover]
    ) -> list[Decision]:
        """A new outage swallows the unconfirmed outages beneath it; confirmed ones stay nested."""
        fresh = {id(c) for c in created}
        merges: list[Decision] = []
        for owner in list(self._owners_below.get(cover.device, ())):
            child = self._covers[owner]
            if child.status not in UNCONFIRMED:
                continue
            self._absorb(child, cover)
            if id(child) not in fresh:
                merges.append(Merge(child.device, cover.device, cover.customers, at))
        return merges

    # -- bookkeeping -----------------------------------------------------------------------

    def _open(self, device: Device, status: OutageStatus, at: datetime) -> _Cover:
        cover = _Cover(device, status, self.topology.customers(device), at)
        self._set_cover(device, cover, at)
        for ancestor in self.topology.ancestors(device):
            self._owners_below[ancestor].add(device)
        self._rehold_under(device)
        if status is OutageStatus.PREDICTED:
            due = at + self.policy.probable_after
            heapq.heappush(self._promotions, (due, next(self._sequence), cover))
        return cover

    def _absorb(self, child: _Cover, into: _Cover) -> None:
        for device in child.devices:
            self._covers[device] = into  # already out: how long it has been out is unchanged
            into.devices.add(device)
        self._drop_owner(child.device)
        into.customers = self._customers_of(into.devices)

    def _close(self, cover: _Cover) -> None:
        for device in cover.devices:
            if self._covers.get(device) is cover:
                del self._covers[device]
                self._unfresh(device)
        self._drop_owner(cover.device)

    def _set_cover(self, device: Device, cover: _Cover, at: datetime) -> None:
        if device not in self._covers and (
            self._now is None or at >= self._now - self.policy.window
        ):
            parent = self.topology.parent(device)
            if parent is not None:
                self._fresh_out[parent] += 1
            self._entered[device] = at
            heapq.heappush(self._aging, (at, device))
        self._covers[device] = cover

    def _unfresh(self, device: Device) -> None:
        if self._entered.pop(device, None) is not None:
            parent = self.topology.parent(device)
            if parent is not None:
                self._fresh_out[parent] -= 1

    def _drop_owner(self, device: Device) -> None:
        for ancestor in self.topology.ancestors(device):
            self._owners_below[ancestor].discard(device)

    def _lowest_cover(self, path: Path) -> _Cover | None:
        covers = self._covers
        for device in path:
            cover = covers.get(device)
            if cover is not None:
                return cover
        return None

    def _service_points_under(self, device: Device) -> Iterable[int]:
        if device.kind is DeviceKind.SERVICE_POINT:
            return (device.id,) if device.id in self._reports else ()
        return self._open_under.get(device, ())

    def _reports_of(self, cover: _Cover) -> Iterable[int]:
        """Open reports this outage holds: below its devices, not inside a nested outage."""
        seen: set[int] = set()
        for device in cover.devices:
            for service_point_id in self._service_points_under(device):
                if service_point_id in seen:
                    continue
                seen.add(service_point_id)
                path = self.topology.path(service_point_id)
                if path is not None and self._lowest_cover(path) is cover:
                    yield service_point_id

    def _has_reports(self, cover: _Cover) -> bool:
        return next(iter(self._reports_of(cover)), None) is not None

    def _customers_of(self, devices: set[Device]) -> int:
        """Customers under a set of devices, not counting twice those under two of them."""
        return sum(
            self.topology.customers(d)
            for d in devices
            if not any(a in devices for a in self.topology.ancestors(d))
        )
