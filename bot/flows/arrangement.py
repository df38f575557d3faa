"""Payment arrangement: the policy decides, the bot only offers what it allows."""

from __future__ import annotations

from bot.flows.base import FlowContext, ask, yes_no
from bot.flows.common import answer_verification, bot_caller, day, money, require_verified
from core.accounts.models import Account
from core.arrangements.policy import ArrangementRefusal, installment_schedule
from core.arrangements.service import arrangement_offer, create_arrangement
from core.clock import today

NAME = "arrangement"
INTENTS = {"payment_arrangement"}


async def start(ctx: FlowContext) -> None:
    ctx.state.enter(NAME, "verify")
    account_id = await require_verified(ctx)
    if account_id is not None:
        await _offer(ctx, account_id)


async def resume(ctx: FlowContext) -> bool:
    if ctx.state.step == "accept":
        answer = yes_no(ctx.turn.text, ctx.intent)
        if answer is None:
            return False
        if answer:
            await _create(ctx)
        else:
            ctx.say("arrangement_declined")
            ctx.state.finish()
        return True
    outcome = await answer_verification(ctx)
    if outcome is None:
        return False
    if outcome and ctx.state.verified_account_id:
        await _offer(ctx, ctx.state.verified_account_id)
    return True


async def _offer(ctx: FlowContext, account_id: int) -> None:
    offer = await arrangement_offer(ctx.session, account_id=account_id)
    if isinstance(offer, ArrangementRefusal):
        ctx.say("arrangement_ineligible", reason=offer.reason)
        ctx.state.finish()
        return
    count = offer.max_installments
    schedule = installment_schedule(offer, installments=count, today=today())
    ctx.state.slots.update({"account_id": account_id, "installments": count})
    ask(ctx, "arrangement_offer", step="accept", expecting="yes_no",
        total=money(offer.total_cents), down=money(offer.down_payment_cents), count=count,
        installment=money(schedule[1].amount_cents), first_due=day(schedule[1].due_on),
        quick_replies=("Yes", "No"))


async def _create(ctx: FlowContext) -> None:
    account_id = int(ctx.state.slots["account_id"])
    arrangement, installments = await create_arrangement(
        ctx.session, caller=bot_caller(ctx), account_id=account_id,
        installments=int(ctx.state.slots["installments"]),
    )
    account = await ctx.session.get(Account, account_id)
    held = bool(account and account.disconnect_hold_reason)
    ctx.say("arrangement_created", ref=f"A{arrangement.id}",
            down=money(installments[0].amount_cents), down_due=day(installments[0].due_on),
            hold_part=ctx.text("disconnect_hold") if held else "")
    ctx.state.finish()
