"""Seasonal usage and tariff arithmetic, so a demo bill can be explained line by line.

Rates are round, plausible numbers for a small municipal utility, not any real tariff.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

# Month-of-year multipliers (January first).
ELECTRIC_SEASON = (1.10, 1.00, 0.88, 0.80, 0.92, 1.22, 1.45, 1.50, 1.22, 0.90, 0.88, 1.05)
ELECTRIC_HEAT_SEASON = (1.55, 1.40, 1.10, 0.85, 0.90, 1.20, 1.42, 1.48, 1.18, 0.92, 1.10, 1.45)
GAS_SEASON = (1.90, 1.70, 1.30, 0.80, 0.45, 0.30, 0.25, 0.25, 0.30, 0.60, 1.10, 1.70)
WATER_SEASON = (0.85, 0.85, 0.90, 1.00, 1.10, 1.25, 1.40, 1.40, 1.15, 1.00, 0.90, 0.85)

# (fixed monthly charge, price per unit) in cents; water and sewer are priced per 1,000 gallons.
RESIDENTIAL_RATES = {
    "electric": (1200, 12.4),
    "water": (1050, 465.0),
    "sewer": (900, 520.0),
    "gas": (1000, 108.0),
    "solid_waste": (2250, 0.0),
    "stormwater": (675, 0.0),
}
COMMERCIAL_RATES = {
    "electric": (3500, 10.9),
    "water": (2500, 430.0),
    "sewer": (2000, 495.0),
    "gas": (2500, 96.0),
    "solid_waste": (6500, 0.0),
    "stormwater": (1800, 0.0),
}
UNITS = {"electric": "kWh", "water": "gal", "sewer": "gal", "gas": "therm",
         "solid_waste": "—", "stormwater": "—"}
LINE_ORDER = ("electric", "water", "sewer", "gas", "solid_waste", "stormwater")


@dataclass(frozen=True)
class PremiseLoad:
    """How much one premise uses in an average month, and which services it takes."""

    commercial: bool
    kwh: float
    electric_heat: bool
    gallons: float | None
    therms: float | None
    solid_waste: bool
    stormwater: bool
    smart_meter: bool

    @property
    def services(self) -> tuple[str, ...]:
        kinds = ["electric"]
        if self.gallons is not None:
            kinds += ["water", "sewer"]
        if self.therms is not None:
            kinds.append("gas")
        if self.solid_waste:
            kinds.append("solid_waste")
        if self.stormwater:
            kinds.append("stormwater")
        return tuple(kinds)


def draw_load(rng: random.Random, *, commercial: bool, vacant: bool = False) -> PremiseLoad:
    scale = rng.choice((4, 6, 10, 20, 40)) if commercial else 1
    has_gas = rng.random() < (0.5 if commercial else 0.35)
    return PremiseLoad(
        commercial=commercial,
        kwh=0.0 if vacant else rng.lognormvariate(6.75, 0.35) * scale,  # median ~850 kWh
        electric_heat=not has_gas,
        gallons=(0.0 if vacant else rng.lognormvariate(8.5, 0.35) * scale)  # median ~4,900 gal
        if rng.random() < 0.88 else None,
        therms=(0.0 if vacant else rng.uniform(25, 60) * scale) if has_gas else None,
        solid_waste=rng.random() < (0.6 if commercial else 0.8),
        stormwater=rng.random() < 0.7,
        smart_meter=rng.random() < 0.75,
    )


def bill_lines(
    rng: random.Random, loads: list[PremiseLoad], month: int
) -> list[tuple[str, Decimal, str, int, bool]]:
    """(service kind, usage, unit, cents, estimated read) per service kind, summed over premises."""
    usage: dict[str, float] = {}
    cents: dict[str, int] = {}
    estimated: dict[str, bool] = {}
    for load in loads:
        rates = COMMERCIAL_RATES if load.commercial else RESIDENTIAL_RATES
        noise = rng.uniform(0.88, 1.12)
        season = ELECTRIC_HEAT_SEASON if load.electric_heat else ELECTRIC_SEASON
        amounts = {
            "electric": round(load.kwh * season[month - 1] * noise),
            "water": round((load.gallons or 0) * WATER_SEASON[month - 1] * noise, -1),
            "gas": round((load.therms or 0) * GAS_SEASON[month - 1] * noise, 1),
        }
        amounts["sewer"] = amounts["water"]
        for kind in load.services:
            fixed, price = rates[kind]
            used = amounts.get(kind, 0)
            per = 1000 if kind in ("water", "sewer") else 1
            usage[kind] = usage.get(kind, 0) + used
            cents[kind] = cents.get(kind, 0) + fixed + round(used * price / per)
            guess = not load.smart_meter and kind in amounts and rng.random() < 0.04
            estimated[kind] = estimated.get(kind, False) or guess
    return [
        (kind, Decimal(str(round(usage[kind], 2))), UNITS[kind], cents[kind], estimated[kind])
        for kind in LINE_ORDER
        if kind in cents
    ]
