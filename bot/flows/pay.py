"""Pay: never a card number in chat, SMS, email or speech; a single-use payment link instead.

A link may go to a phone or email on file (it only reaches the account holder); a stranger
proves who they are first.
"""

from __future__ import annotations

from decimal import Decimal

from bot.flows.base import FlowContext
from bot.flows.common import (
    answer_verification,
    known_premises,
    money,
    require_verified,
    tail,
)
from core.accounts.models import Account
from core.billing import repository as ledger
from core.money import to_cents
from core.payments.service import issue_link

NAME = "pay"
INTENTS = {"make_payment"}


async def start(ctx: FlowContext) -> None:
    ctx.state.enter(NAME, "verify")
    amount = ctx.entities.get("amount")
    if amount is not None:
        ctx.state.slots["amount"] = str(amount)
    candidates = await known_premises(ctx)
    accounts = sorted({c.account_id for c in candidates})
    if ctx.state.verification == "verified" and ctx.state.verified_account_id:
        await _send(ctx, ctx.state.verified_account_id)
    elif len(accounts) == 1:
        await _send(ctx, accounts[0])
    else:
        await require_verified(ctx)


async def resume(ctx: FlowContext) -> bool:
    outcome = await answer_verification(ctx)
    if outcome is None:
        return False
    if outcome and ctx.state.verified_account_id:
        await _send(ctx, ctx.state.verified_account_id)
    return True


async def _send(ctx: FlowContext, account_id: int) -> None:
    balance = await ledger.balance_cents(ctx.session, account_id=account_id)
    asked = ctx.state.slots.get("amount")
    cents = to_cents(Decimal(asked)) if asked else balance
    if cents <= 0:
        cents = max(balance, 0)
    if cents <= 0:
        account = await ctx.session.get(Account, account_id)
        ctx.say("balance_credit", account_tail=tail(account.number) if account else "",
                balance=money(-balance))
        ctx.state.finish()
        return
    settings = ctx.turn.settings
    link = await issue_link(
        ctx.session, account_id=account_id, amount_cents=cents,
        secret=settings.secret_key.get_secret_value(), base_url=settings.public_base_url,
        channel=ctx.turn.channel,
    )
    ctx.say("pay_link", amount=money(cents), url=link.url, minutes=30)
    ctx.state.finish()
