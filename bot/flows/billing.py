"""Billing questions: the last bill against usage; a meter re-read (fee rule) and, for water,
the leak path. Bills are account data, so this needs a verified customer."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from bot.flows.base import FlowContext
from bot.flows.common import (
    answer_verification,
    bot_caller,
    known_premises,
    money,
    require_verified,
)
from core.billing import repository as ledger
from core.billing.models import Bill, BillLine
from core.service_orders.service import request_leak_adjustment, request_meter_reread

NAME = "billing"
INTENTS = {"billing_question", "meter_reread", "report_leak"}
# A bill this much above the one before is worth a word about leaks and misreads.
HIGH_JUMP = Decimal("1.3")


async def start(ctx: FlowContext) -> None:
    ctx.state.enter(NAME, "verify")
    ctx.state.slots["job"] = ctx.intent
    account_id = await require_verified(ctx)
    if account_id is not None:
        await _do(ctx, account_id)


async def resume(ctx: FlowContext) -> bool:
    outcome = await answer_verification(ctx)
    if outcome is None:
        return False
    if outcome and ctx.state.verified_account_id:
        await _do(ctx, ctx.state.verified_account_id)
    return True


async def _lines(ctx: FlowContext, bill: Bill) -> list[BillLine]:
    rows = await ctx.session.execute(select(BillLine).where(BillLine.bill_id == bill.id))
    return list(rows.scalars())


def _usage(lines: list[BillLine]) -> str:
    return ", ".join(f"{Decimal(line.usage):,.0f} {line.unit}" for line in lines) or "-"


async def _do(ctx: FlowContext, account_id: int) -> None:
    job = ctx.state.slots.get("job")
    bills = await ledger.recent_bills(ctx.session, account_id=account_id, limit=2)
    if not bills:
        ctx.say("billing_none")
        ctx.state.finish()
        return
    premises = [c for c in await known_premises(ctx) if c.account_id == account_id]
    premise_id = premises[0].premise_id if premises else None
    if job == "meter_reread" and premise_id is not None:
        order = await request_meter_reread(ctx.session, caller=bot_caller(ctx),
                                           account_id=account_id, premise_id=premise_id)
        fee = ctx.text("reread_fee_part", fee=money(order.fee_cents)) if order.fee_cents else (
            ctx.text("reread_no_fee_part"))
        ctx.say("reread_created", ref=f"S{order.id}", fee_part=fee)
    elif job == "report_leak":
        order = await request_leak_adjustment(ctx.session, caller=bot_caller(ctx),
                                              account_id=account_id, bill_id=bills[0].id)
        ctx.say("leak_steps", ref=f"S{order.id}")
    else:
        await _explain(ctx, bills)
    ctx.state.finish()


async def _explain(ctx: FlowContext, bills: list[Bill]) -> None:
    last = bills[0]
    lines = await _lines(ctx, last)
    previous = bills[1] if len(bills) > 1 else None
    prev_lines = await _lines(ctx, previous) if previous else []
    change, hint = "-", ""
    if previous and previous.amount_cents > 0:
        ratio = Decimal(last.amount_cents) / Decimal(previous.amount_cents)
        pct = (ratio - 1) * 100
        change = f"{'+' if pct >= 0 else ''}{pct:.0f}%"
        if ratio >= HIGH_JUMP:
            hint = ctx.text("billing_hint_high")
    ctx.say("billing_explain", period=f"{last.period_start}–{last.period_end}",
            amount=money(last.amount_cents), usage=_usage(lines), change=change,
            prev_usage=_usage(prev_lines), hint=hint)
