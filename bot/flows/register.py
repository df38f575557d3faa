"""REG links this phone to an account (account + ZIP → confirm address → Y); NICK names a
premise so a landlord can say "OUT duplex" instead of picking from a list."""

from __future__ import annotations

import re

from sqlalchemy import select

from bot.flows.base import FlowContext, ask, yes_no
from bot.flows.common import continue_after_premise, resolve_premise, tail
from bot.identity import account_by_number, premises_for_account
from core.customers.models import Contact
from core.customers.service import add_contact
from core.errors import Conflict
from core.premises.service import set_nickname

NAME = "register"
INTENTS = {"register", "nickname"}
_NUMBERS = re.compile(r"\b\d{5,12}\b")
MAX_TRIES = 3


async def start(ctx: FlowContext) -> None:
    if ctx.intent == "nickname":
        ctx.state.enter(NAME, "nick")
        nickname = ctx.entities.get("premise_nickname") or ctx.entities.get("nickname")
        if not nickname:
            ctx.say("nick_ask")
            ctx.state.finish()
            return
        ctx.state.slots["nickname"] = str(nickname)[:40]
        await _nickname(ctx)
        return
    ctx.state.enter(NAME, "reg")
    ask(ctx, "reg_ask", step="reg", expecting="account")


async def resume(ctx: FlowContext) -> bool:
    step = ctx.state.step
    if step == "reg":
        return await _check_account(ctx)
    if step == "reg_confirm":
        answer = yes_no(ctx.turn.text, ctx.intent)
        if answer is None:
            return False
        if answer:
            await _link(ctx)
        else:
            ctx.say("cancelled_flow")
            ctx.state.finish()
        return True
    if step in {"pick_premise", "need_account"} and ctx.state.slots.get("nickname"):
        return await continue_after_premise(ctx, _nickname)
    return False


async def _check_account(ctx: FlowContext) -> bool:
    numbers = _NUMBERS.findall(ctx.turn.text)
    if len(numbers) < 2:
        return False
    for number in numbers:
        account = await account_by_number(ctx.session, number)
        if account is None:
            continue
        premises = await premises_for_account(ctx.session, account.id)
        zips = {p.zip[:5] for p in premises}
        if zips & set(numbers) and premises:
            ctx.state.slots.update({"account_id": account.id, "customer_id": account.customer_id,
                                    "account_number": account.number})
            ask(ctx, "reg_confirm", step="reg_confirm", expecting="yes_no",
                address=premises[0].label, quick_replies=("Y", "N"))
            return True
    tries = int(ctx.state.slots.get("tries", 0)) + 1
    ctx.state.slots["tries"] = tries
    if tries >= MAX_TRIES:
        ctx.say("verify_locked")
        ctx.state.finish()
    else:
        ask(ctx, "reg_failed", step="reg", expecting="account")
    return True


async def _link(ctx: FlowContext) -> None:
    customer_id = int(ctx.state.slots["customer_id"])
    kind = "email" if "@" in ctx.turn.address else "phone"
    existing = (await ctx.session.execute(select(Contact).where(
        Contact.customer_id == customer_id, Contact.value == ctx.turn.address))).scalar_one_or_none()
    if existing is None:
        try:
            await add_contact(ctx.session, customer_id=customer_id, kind=kind,
                              value=ctx.turn.address, language=ctx.language,
                              preferred_channel=ctx.turn.channel)
        except Conflict:
            pass  # linked by a concurrent message: the outcome the customer wanted
    ctx.state.verification = "caller_id"
    ctx.say("reg_done", account_tail=tail(str(ctx.state.slots["account_number"])))
    ctx.state.finish()


async def _nickname(ctx: FlowContext) -> None:
    premise = await resolve_premise(ctx)
    if premise is None:
        return
    nickname = str(ctx.state.slots["nickname"])
    await set_nickname(ctx.session, premise_id=premise.premise_id, nickname=nickname)
    ctx.say("nick_done", address=premise.label, nickname=nickname)
    ctx.state.finish()
