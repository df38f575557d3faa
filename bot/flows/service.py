"""Start, stop or transfer service: collect the address and date, confirm, create the order;
a deposit requirement on start, a prorated final bill on stop."""

from __future__ import annotations

from datetime import date

from bot.flows.base import FlowContext, ask, yes_no
from bot.flows.common import (
    answer_premise_question,
    answer_verification,
    bot_caller,
    money,
    require_verified,
    resolve_premise,
)
from bot.nlu.entities import extract_entities
from core.billing import repository as ledger
from core.billing.policy import prorate_cents
from core.clock import today
from core.deposits.service import deposit_requirement
from core.service_orders.service import open_order

NAME = "service"
INTENTS = {"start_service", "stop_service", "transfer_service"}
KIND = {"start_service": "start", "stop_service": "stop", "transfer_service": "transfer"}
LABEL = {
    "en": {"start": "Start service", "stop": "Stop service", "transfer": "Transfer service"},
    "es": {"start": "Alta de servicio", "stop": "Baja de servicio",
           "transfer": "Traslado de servicio"},
}


async def start(ctx: FlowContext) -> None:
    ctx.state.enter(NAME, "verify")
    ctx.state.slots["kind"] = KIND[ctx.intent]
    if await require_verified(ctx) is not None:
        await _advance(ctx)


async def resume(ctx: FlowContext) -> bool:
    step = ctx.state.step
    if step == "verify":
        outcome = await answer_verification(ctx)
        if outcome is None:
            return False
        if outcome:
            await _advance(ctx)
        return True
    if step in {"pick_premise", "need_account"}:
        if not await answer_premise_question(ctx):
            return False
    elif step == "address":
        text = ctx.turn.text.strip()
        if len(text) < 6 or not any(ch.isdigit() for ch in text):
            return False
        ctx.state.slots["new_address"] = text[:200]
    elif step == "date":
        when = _date_in(ctx.turn.text)
        if when is None or when < today():
            return False
        ctx.state.slots["date"] = when.isoformat()
    elif step == "confirm":
        answer = yes_no(ctx.turn.text, ctx.intent)
        if answer is None:
            return False
        if not answer:
            ctx.say("cancelled_flow")
            ctx.state.finish()
            return True
        await _create(ctx)
        return True
    else:
        return False
    await _advance(ctx)
    return True


def _date_in(text: str) -> date | None:
    for entity in extract_entities(text):
        if entity.type == "date" and isinstance(entity.value, date):
            return entity.value
    return None


async def _advance(ctx: FlowContext) -> None:
    slots = ctx.state.slots
    kind = slots["kind"]
    needs_premise = kind in {"stop", "transfer"} and "premise" not in slots
    if needs_premise and await resolve_premise(ctx) is None:
        return
    if kind in {"start", "transfer"} and "new_address" not in slots:
        ask(ctx, "service_ask_address", step="address", expecting="address")
        return
    if "date" not in slots:
        ask(ctx, "service_ask_date", step="date", expecting="date")
        return
    address = slots.get("new_address") or slots["premise"]["label"]
    ask(ctx, "service_confirm", step="confirm", expecting="yes_no",
        kind_label=LABEL.get(ctx.language, LABEL["en"])[kind], address=address,
        date=slots["date"], quick_replies=("Yes", "No"))


async def _create(ctx: FlowContext) -> None:
    slots = ctx.state.slots
    kind = slots["kind"]
    account_id = ctx.state.verified_account_id
    premise = slots.get("premise") or {}
    when = date.fromisoformat(slots["date"])
    details: dict[str, object] = {"channel": ctx.turn.channel}
    if slots.get("new_address"):
        details["new_address"] = slots["new_address"]
    deposit_part = final_bill_part = ""
    if kind in {"start", "transfer"} and account_id:
        need = await deposit_requirement(ctx.session, account_id=account_id)
        details["deposit_cents"] = need.required_cents
        if need.required_cents > 0:
            deposit_part = ctx.text("service_deposit_part", deposit=money(need.required_cents))
    if kind in {"stop", "transfer"} and account_id:
        estimate = await _final_bill(ctx, account_id, when)
        if estimate is not None:
            details["final_bill_estimate_cents"] = estimate
            final_bill_part = ctx.text("service_final_bill_part", final_bill=money(estimate),
                                       date=when.isoformat())
    order = await open_order(ctx.session, caller=bot_caller(ctx), kind=kind,
                             account_id=account_id, premise_id=premise.get("premise_id"),
                             requested_for=when, details=details)
    ctx.say("service_created", kind_label=LABEL.get(ctx.language, LABEL["en"])[kind].lower(),
            ref=f"S{order.id}", deposit_part=deposit_part, final_bill_part=final_bill_part)
    ctx.state.finish()


async def _final_bill(ctx: FlowContext, account_id: int, stop_on: date) -> int | None:
    """The last bill's daily rate times the days from its period end to the stop date."""
    bills = await ledger.recent_bills(ctx.session, account_id=account_id, limit=1)
    if not bills:
        return None
    last = bills[0]
    days = (last.period_end - last.period_start).days or 30
    used = max(0, (stop_on - last.period_end).days)
    return prorate_cents(period_cents=last.amount_cents, period_days=days,
                         days_used=min(used, days)) if used else 0


