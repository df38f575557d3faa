"""Storm facts announced after commit on the bus (the console shows its banner from them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from core.events import DomainEvent


@dataclass(frozen=True, kw_only=True)
class StormModeChanged(DomainEvent):
    """`on` and `message` are the names the console's listener reads (agent_console/listeners)."""

    topic: ClassVar[str] = "storm.changed"
    on: bool
    message: str
    by: str
    source: str
    version: int
    at: str
