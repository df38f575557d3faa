"""The service territory, walked street by street: each new site gets an address and a transformer.

Neighbours share a transformer and feeders cover contiguous streets, so a generated outage
hits a believable cluster of addresses. The network grows as sites are handed out, so a seed
of any size streams without knowing its final size.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from core.demo.names import (
    CITY,
    STATE,
    STREET_DIRECTIONS,
    STREET_NAMES,
    STREET_SUFFIXES,
    ZIPS,
)
from core.demo.rows import Batch, Ids

SUBSTATION_AREAS = ("North", "South", "East", "West", "Central", "Harbor", "Airport", "Mill")


@dataclass(frozen=True)
class Site:
    address: str
    unit: str | None
    city: str
    state: str
    zip: str
    transformer_id: int


def street_name(index: int) -> str:
    """A distinct street for every index up to names × suffixes × directions (about 10,000)."""
    name = STREET_NAMES[index % len(STREET_NAMES)]
    rest = index // len(STREET_NAMES)
    suffix = STREET_SUFFIXES[rest % len(STREET_SUFFIXES)]
    direction = STREET_DIRECTIONS[(rest // len(STREET_SUFFIXES)) % len(STREET_DIRECTIONS)]
    cycle = index // (len(STREET_NAMES) * len(STREET_SUFFIXES) * len(STREET_DIRECTIONS))
    extension = f" {cycle + 1}" if cycle else ""  # only past ~10,000 streets (millions of sites)
    return f"{direction}{name}{extension} {suffix}"


class Territory:
    """Hands out sites in walking order and writes substations, feeders and transformers as needed."""

    def __init__(self, rng: random.Random, ids: Ids) -> None:
        self._rng = rng
        self._ids = ids
        self._substation_index = -1
        self._substation_id = 0
        self._substation_code = ""
        self._feeders_left = 0
        self._feeder_id = 0
        self._feeder_code = ""
        self._feeder_number = 0
        self._feeder_sites_left = 0
        self._transformer_id = 0
        self._transformer_number = 0
        self._transformer_sites_left = 0
        self._building: str | None = None  # an apartment building being filled, unit by unit
        self._unit = 0
        self._street_index = self._rng.randrange(len(STREET_NAMES))
        self._street = street_name(self._street_index)
        self._house = 100
        self._street_sites_left = 0

    def next_site(self, batch: Batch) -> Site:
        if self._transformer_sites_left <= 0:
            self._new_transformer(batch)
        self._transformer_sites_left -= 1
        self._feeder_sites_left -= 1
        zip_code = ZIPS[self._substation_index % len(ZIPS)]
        if self._building is not None:
            self._unit += 1
            floor, door = divmod(self._unit - 1, 6)
            unit = f"Apt {floor + 1}{'ABCDEF'[door]}"
            return Site(self._building, unit, CITY, STATE, zip_code, self._transformer_id)
        return Site(self._next_address(), None, CITY, STATE, zip_code, self._transformer_id)

    def _next_address(self) -> str:
        if self._street_sites_left <= 0:
            self._street_index += 1
            self._street = street_name(self._street_index)
            self._house = self._rng.choice((100, 200, 300, 1000, 1100, 2400))
            self._street_sites_left = self._rng.randint(60, 180)
        self._street_sites_left -= 1
        self._house += self._rng.choice((2, 4, 4, 6, 8, 10))
        return f"{self._house} {self._street}"

    def _new_transformer(self, batch: Batch) -> None:
        if self._feeder_sites_left <= 0:
            self._new_feeder(batch)
        self._transformer_number += 1
        self._transformer_id = self._ids.next("transformers")
        code = f"{self._feeder_code}-T{self._transformer_number:03d}"
        batch.add("transformers", {"id": self._transformer_id, "code": code,
                                   "feeder_id": self._feeder_id})
        if self._rng.random() < 0.06:  # an apartment building: one pad-mount, many units
            self._building = self._next_address()
            self._unit = 0
            self._transformer_sites_left = self._rng.randint(12, 36)
        else:
            self._building = None
            self._transformer_sites_left = self._rng.randint(5, 15)

    def _new_feeder(self, batch: Batch) -> None:
        if self._feeders_left <= 0:
            self._new_substation(batch)
        self._feeders_left -= 1
        self._feeder_number += 1
        self._transformer_number = 0
        self._feeder_id = self._ids.next("feeders")
        self._feeder_code = f"{self._substation_code}-F{self._feeder_number:02d}"
        self._feeder_sites_left = self._rng.randint(300, 600)
        batch.add("feeders", {"id": self._feeder_id, "code": self._feeder_code,
                              "substation_id": self._substation_id})

    def _new_substation(self, batch: Batch) -> None:
        self._substation_index += 1
        self._substation_id = self._ids.next("substations")
        self._substation_code = f"RB{self._substation_index + 1:03d}"
        self._feeders_left = self._rng.randint(3, 8)
        self._feeder_number = 0
        area = SUBSTATION_AREAS[self._substation_index % len(SUBSTATION_AREAS)]
        landmark = STREET_NAMES[(self._substation_index * 7) % len(STREET_NAMES)]
        batch.add("substations", {"id": self._substation_id, "code": self._substation_code,
                                  "name": f"{area} {landmark} Substation"})
