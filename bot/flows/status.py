"""Outage status: the known outage at the customer's premise, or an offer to report one."""

from __future__ import annotations

from bot.flows.base import FlowContext, ask, yes_no
from bot.flows.common import continue_after_premise, resolve_premise, shown_label
from bot.flows.outage import outage_values
from core.outages import service as outages

NAME = "status"
INTENTS = {"outage_status"}


async def start(ctx: FlowContext) -> None:
    ctx.state.enter(NAME, "premise")
    await _advance(ctx)


async def resume(ctx: FlowContext) -> bool:
    if ctx.state.step == "offer_report":
        answer = yes_no(ctx.turn.text, ctx.intent)
        if answer is None:
            return False
        if answer:
            from bot.flows import outage

            premise = ctx.state.slots.get("premise")
            ctx.state.finish()
            ctx.state.slots["premise"] = premise
            ctx.intent = "report_outage"
            await outage.start(ctx)
        else:
            ctx.say("thanks")
            ctx.state.finish()
        return True
    return await continue_after_premise(ctx, _advance)


async def _advance(ctx: FlowContext) -> None:
    premise = await resolve_premise(ctx)
    if premise is None:
        return
    address = shown_label(ctx, premise)
    picture = ctx.turn.extras.get("outage_picture")
    if picture is not None:
        # Storm mode: answer from the cached outage picture, no database scan per message.
        outage = await picture.outage_for_premise(premise.premise_id)
    else:
        outage = await outages.outage_for_premise(ctx.session, premise.premise_id)
    if outage is None:
        ask(ctx, "status_unknown", step="offer_report", expecting="yes_no", address=address,
            quick_replies=("Yes", "No"))
        return
    ctx.say("status_known", address=address, **outage_values(ctx, outage))
    ctx.state.finish()
