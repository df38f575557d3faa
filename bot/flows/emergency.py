"""Emergencies: safety instruction at once, then a priority hand-off. Nothing else first."""

from __future__ import annotations

import re

from bot.flows.base import FlowContext

NAME = "emergency"
INTENTS = {"report_hazard"}
# Queues serve higher numbers first: a hazard outranks everything else in line.
EMERGENCY_PRIORITY = 10

_GAS = re.compile(r"\b(gas|smell|olor|huele|rotten egg|huevo podrido)\b", re.IGNORECASE)
_WATER = re.compile(
    r"\b(main break|water main|flood\w*|geyser|sinkhole|inund\w*|tubería rota|tuberia rota)\b",
    re.IGNORECASE,
)


def hazard_kind(text: str) -> str:
    if _GAS.search(text):
        return "gas"
    if _WATER.search(text):
        return "water"
    return "electric"


async def start(ctx: FlowContext) -> None:
    kind = hazard_kind(ctx.turn.text)
    ctx.state.slots["hazard"] = kind
    ctx.say(f"emergency_{kind}")
    ctx.state.flow = NAME
    ctx.handoff(reason="emergency", skill="emergency", priority=EMERGENCY_PRIORITY)
    ctx.state.finish()


async def resume(ctx: FlowContext) -> bool:
    return False
