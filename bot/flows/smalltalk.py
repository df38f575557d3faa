"""Greetings, thanks, goodbyes, help and the polite "I can't do that"."""

from __future__ import annotations

from bot.flows.base import FlowContext

NAME = "smalltalk"
INTENTS = {"greet", "goodbye", "thanks", "help", "out_of_scope"}


async def start(ctx: FlowContext) -> None:
    ctx.state.finish()
    if ctx.intent == "greet":
        name = ctx.turn.extras.get("first_name")
        ctx.say("greet", name_part=f" {name}" if name else "",
                quick_replies=("Report outage", "Outage status", "Balance", "Pay", "Agent"))
        if ctx.turn.storm_mode:
            ctx.result.replies.insert(0, ctx.render("storm_greeting"))
    elif ctx.intent == "help":
        ctx.say("help")
    elif ctx.intent == "thanks":
        ctx.say("thanks")
    elif ctx.intent == "goodbye":
        ctx.say("goodbye")
    else:
        ctx.say("out_of_scope")


async def resume(ctx: FlowContext) -> bool:
    return False
