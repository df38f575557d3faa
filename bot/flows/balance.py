"""Balance and bill: only after verification. Balance, due date, past due, last payment,
and a pending disconnection, in one short message."""

from __future__ import annotations

from bot.flows.base import FlowContext
from bot.flows.common import answer_verification, day, money, require_verified, tail
from core.accounts.flows import account_summary

NAME = "balance"
INTENTS = {"check_balance"}


async def start(ctx: FlowContext) -> None:
    ctx.state.enter(NAME, "verify")
    account_id = await require_verified(ctx)
    if account_id is not None:
        await _tell(ctx, account_id)


async def resume(ctx: FlowContext) -> bool:
    outcome = await answer_verification(ctx)
    if outcome is None:
        return False
    if outcome and ctx.state.verified_account_id:
        await _tell(ctx, ctx.state.verified_account_id)
    return True


async def _tell(ctx: FlowContext, account_id: int) -> None:
    summary = await account_summary(ctx.session, account_id=account_id, history=3)
    number = tail(summary.account.number)
    if summary.balance <= 0:
        ctx.say("balance_credit", account_tail=number, balance=money(-summary.balance))
        ctx.state.finish()
        return
    es = ctx.language == "es"
    past_due = summary.aging.past_due
    past_due_part = (f" {'Vencido' if es else 'Past due'}: {money(past_due)}."
                     if past_due > 0 else "")
    last = next((p.payment for p in summary.payments if not p.reversed), None)
    last_payment_part = (
        f" {'Último pago' if es else 'Last payment'}: {money(-last.amount)} "
        f"{'el' if es else 'on'} {last.posted_at.date().isoformat()}." if last else ""
    )
    disconnect_part = ""
    if summary.collections.disconnect_pending and not summary.collections.hold:
        disconnect_part = (" Hay un corte pendiente: envíe AGENT o pague para evitarlo."
                           if es else
                           " A disconnection is pending: pay or text AGENT to avoid it.")
    due = summary.last_bill.due_on if summary.last_bill else None
    ctx.say("balance", account_tail=number, balance=money(summary.balance), due_date=day(due),
            past_due_part=past_due_part, last_payment_part=last_payment_part,
            disconnect_part=disconnect_part, quick_replies=("Pay", "Payment plan", "Agent"))
    ctx.state.finish()
