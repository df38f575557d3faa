"""The dialogue state of one conversation: which flow, which step, what we've collected.

It is plain JSON so it lives on the conversation row and survives restarts and process hops.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass
class DialogueState:
    flow: str | None = None
    step: str | None = None
    slots: dict[str, Any] = field(default_factory=dict)
    # What the last question expects: yes_no | choice | account | verify | text | date | address
    expecting: str | None = None
    choices: list[dict[str, Any]] = field(default_factory=list)
    misunderstandings: int = 0
    language: str | None = None
    # Verification: none | caller_id | verified. `verified_account_id` is what was proven.
    verification: str = "none"
    verified_account_id: int | None = None
    verify_attempts: int = 0
    # Set when we sent a restoration notice, so "OFF"/"still out" becomes a nested report.
    restoration_outage_id: int | None = None
    handed_off: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> DialogueState:
        if not data:
            return cls()
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def enter(self, flow: str, step: str, *, expecting: str | None = None) -> None:
        self.flow, self.step, self.expecting = flow, step, expecting
        self.misunderstandings = 0

    def finish(self) -> None:
        """Leave the flow but keep what outlives it: language, verification, restoration."""
        self.flow = self.step = self.expecting = None
        self.slots = {}
        self.choices = []
        self.misunderstandings = 0
