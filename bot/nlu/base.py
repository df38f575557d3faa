"""The NLU port: every engine (keywords, embedded, Rasa) answers with the same NluResult."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

# The intents table of shared/DOMAIN.md: every engine and test set uses exactly these names.
INTENTS: tuple[str, ...] = (
    "greet",
    "goodbye",
    "affirm",
    "deny",
    "thanks",
    "help",
    "report_outage",
    "outage_status",
    "cancel_outage_report",
    "report_hazard",
    "check_balance",
    "make_payment",
    "payment_arrangement",
    "start_service",
    "stop_service",
    "transfer_service",
    "billing_question",
    "meter_reread",
    "report_leak",
    "talk_to_agent",
    "register",
    "out_of_scope",
)
# Only the SMS keyword grammar produces these; no classifier is trained on them.
OPT_OUT = "opt_out"
OPT_IN = "opt_in"
NICKNAME = "nickname"
KEYWORD_INTENTS: tuple[str, ...] = (OPT_OUT, OPT_IN, NICKNAME)
OUT_OF_SCOPE = "out_of_scope"


@dataclass(frozen=True, slots=True)
class Entity:
    """One value found in the text; `value` is typed (Decimal, date, E.164 str), `text` as typed."""

    type: str
    value: object
    start: int = -1
    end: int = -1
    text: str = ""


@dataclass(frozen=True, slots=True)
class IntentScore:
    intent: str
    confidence: float


@dataclass(frozen=True, slots=True)
class NluResult:
    """What the customer means; `engine` says which tier decided, for logs and hand-off notes."""

    intent: str
    confidence: float
    entities: tuple[Entity, ...] = ()
    engine: str = ""
    ranking: tuple[IntentScore, ...] = field(default=(), compare=False)
    language: str | None = None
    # True for "OFF"/"still out" after a restoration notice: a new (nested) outage, not a close.
    nested: bool = False

    def entity(self, type_: str) -> Entity | None:
        """The first entity of a type, or None."""
        return next((e for e in self.entities if e.type == type_), None)

    def values(self, type_: str) -> list[object]:
        return [e.value for e in self.entities if e.type == type_]


@runtime_checkable
class NluEngine(Protocol):
    """How to implement: a `name` for NluResult.engine and an async `parse`; never raise on
    odd text (return out_of_scope), raise only when the engine itself is unavailable."""

    name: str

    async def parse(self, text: str, *, language: str | None = None) -> NluResult: ...
