"""Domain events (STYLE 6): facts emitted after commit, handled by `on_<event>` listeners.

An event is a frozen dataclass with a `topic`; it travels on the EventBus port as a dict.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any, ClassVar, Self


@dataclass(frozen=True, kw_only=True)
class DomainEvent:
    topic: ClassVar[str] = "event"

    def to_payload(self) -> dict[str, Any]:
        payload = asdict(self)
        for key, value in payload.items():
            if isinstance(value, datetime):
                payload[key] = value.isoformat()
        payload["topic"] = self.topic
        return payload

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Self:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in payload.items() if k in names})
