"""Roll-up thresholds: when reports under a device are enough evidence that the device is out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class RollupPolicy:
    """Defaults follow how outage management systems group calls; each utility tunes them.

    A transformer serves a handful of premises, so two calls (or half of them) is strong
    evidence. A feeder serves hundreds: it needs several of its transformers out, or a
    quarter of its customers calling from more than one transformer, before the whole
    feeder is blamed. A substation rolls up from its feeders the same way. Shares and
    counts use only reports no known outage explains yet, so calls from under a transformer
    that is already out never predict its feeder on their own.
    """

    # Reports older than this no longer count toward a new prediction (they stay open).
    window: timedelta = timedelta(minutes=30)
    # A prediction nobody withdrew or confirmed becomes "probable" after this long.
    probable_after: timedelta = timedelta(minutes=15)

    transformer_min_reports: int = 2
    # A share of 0.5 also means one report predicts a single-customer transformer.
    transformer_min_share: float = 0.5

    # Counted among outages that began inside the window: the roll-up groups in time too.
    feeder_min_transformers: int = 3
    feeder_min_share: float = 0.25

    substation_min_feeders: int = 3
    substation_min_share: float = 0.25

    # Reports under one child only point at that child, never at the parent by share alone.
    min_reporting_children: int = 2

    # When every open report of an unconfirmed prediction is cancelled, the prediction is dropped.
    withdraw_when_all_cancelled: bool = True

    def __post_init__(self) -> None:
        if self.window <= timedelta(0) or self.probable_after < timedelta(0):
            raise ValueError("window must be positive and probable_after not negative")
        for name in ("transformer_min_share", "feeder_min_share", "substation_min_share"):
            share = getattr(self, name)
            if not 0.0 < share <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {share}")
        for name in (
            "transformer_min_reports",
            "feeder_min_transformers",
            "substation_min_feeders",
            "min_reporting_children",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
