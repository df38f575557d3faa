"""Talk to a person: any time, in any words; also after misunderstandings or anger."""

from __future__ import annotations

from bot.flows.base import FlowContext

NAME = "handoff"
INTENTS = {"talk_to_agent"}

# Which specialists a conversation needs, from what it was about.
SKILL_BY_FLOW = {
    "outage": "outage", "status": "outage", "emergency": "emergency",
    "balance": "billing", "pay": "billing", "billing": "billing", "service": "billing",
    "arrangement": "collections",
}


def skill_for(ctx: FlowContext) -> str:
    flow = ctx.state.flow or ""
    if ctx.turn.extras.get("commercial"):
        return "commercial"
    return SKILL_BY_FLOW.get(flow, "billing")


async def start(ctx: FlowContext, *, reason: str = "requested") -> None:
    # An upset customer moves up the line; a plain request keeps its place.
    ctx.handoff(reason=reason, skill=skill_for(ctx), priority=3 if reason == "angry" else 1)
    ctx.state.finish()


async def resume(ctx: FlowContext) -> bool:
    return False
