"""Report an outage (and withdraw one): hazards first, the premise, then the known outage or
a new report; the customer is subscribed to updates either way."""

from __future__ import annotations

from sqlalchemy import update

from bot.flows import emergency
from bot.flows.base import FlowContext, ask, yes_no
from bot.flows.common import continue_after_premise, local_time, resolve_premise, shown_label
from core.customers.models import Contact
from core.errors import NotFound
from core.outages import service as outages
from core.outages.events import OutagePredicted
from core.outages.models import Outage

NAME = "outage"
INTENTS = {"report_outage", "cancel_outage_report"}

STATUS_WORDS = {
    "en": {"predicted": "under investigation", "probable": "likely outage",
           "confirmed": "confirmed", "crew_assigned": "crew assigned", "restored": "restored"},
    "es": {"predicted": "en investigación", "probable": "apagón probable",
           "confirmed": "confirmado", "crew_assigned": "cuadrilla asignada",
           "restored": "restablecido"},
}


def status_word(ctx: FlowContext, status: str) -> str:
    return STATUS_WORDS.get(ctx.language, STATUS_WORDS["en"]).get(status, status)


def outage_values(ctx: FlowContext, outage: Outage) -> dict[str, object]:
    cause = f", {outage.cause}" if outage.cause else ""
    return {"status": status_word(ctx, outage.status), "cause_part": cause,
            "customers": outage.customers_affected, "etr": local_time(ctx, outage.etr)}


async def start(ctx: FlowContext) -> None:
    if ctx.intent == "cancel_outage_report":
        ctx.state.enter(NAME, "cancel")
        await _advance(ctx)
        return
    ctx.state.enter(NAME, "hazard")
    ctx.state.slots["nested"] = bool(ctx.entities.get("nested"))
    ask(ctx, "hazard_question", step="hazard", expecting="yes_no", quick_replies=("Yes", "No"))


async def resume(ctx: FlowContext) -> bool:
    if ctx.state.step == "hazard":
        answer = yes_no(ctx.turn.text, ctx.intent)
        if answer is None:
            return False
        if answer:
            await emergency.start(ctx)
            return True
        ctx.state.step = "premise"
        ctx.state.expecting = None
        await _advance(ctx)
        return True
    return await continue_after_premise(ctx, _advance)


async def _advance(ctx: FlowContext) -> None:
    premise = await resolve_premise(ctx)
    if premise is None:
        return
    if ctx.state.step == "cancel":
        await _cancel(ctx, premise.premise_id, shown_label(ctx, premise))
        return
    contact = await _subscribe(ctx)
    outcome = await outages.report_outage(
        ctx.session, premise_id=premise.premise_id, source="customer",
        contact_id=contact, channel=ctx.turn.channel,
    )
    ctx.result.events.extend(outcome.events)
    address = shown_label(ctx, premise)
    ref = f"R{outcome.report.id}"
    predicted_now = any(isinstance(e, OutagePredicted) for e in outcome.events)
    if outcome.outage is not None and not predicted_now:
        # Already known: the customer gets that outage's ETR, not a new ticket number.
        ctx.say("outage_known", address=address, **outage_values(ctx, outcome.outage))
    elif not outcome.created:
        ctx.say("outage_already_reported", address=address, ref=ref, status_line="")
    else:
        ctx.say("outage_reported", address=address, ref=ref, ref_spoken=" ".join(ref))
    ctx.state.restoration_outage_id = None
    ctx.state.finish()


async def _cancel(ctx: FlowContext, premise_id: int, address: str) -> None:
    try:
        outcome = await outages.cancel_report(ctx.session, premise_id=premise_id)
    except NotFound:
        ctx.say("outage_nothing_to_cancel", address=address)
    else:
        ctx.result.events.extend(outcome.events)
        ctx.say("outage_cancelled", address=address)
    ctx.state.finish()


async def _subscribe(ctx: FlowContext) -> int | None:
    """Reporting subscribes the reporting phone or email to updates for this outage."""
    result = await ctx.session.execute(
        update(Contact).where(Contact.value == ctx.turn.address)
        .values(outage_alerts=True).returning(Contact.id)
    )
    ids = list(result.scalars())
    return ids[0] if ids else None
