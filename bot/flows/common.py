"""Steps several flows share: find the premise, prove who is asking, format money and time."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from bot.flows.base import FlowContext, ask, pick_choice
from bot.identity import (
    PremiseChoice,
    account_by_number,
    known_sender,
    premises_for_account,
)
from bot.verification import verify
from core.auth.service import Caller
from core.enums import Role

_ACCOUNT_NUMBER = re.compile(r"\b\d{6,12}\b")


def bot_caller(ctx: FlowContext) -> Caller:
    """The bot acts in the audit trail as itself, on behalf of the conversation."""
    return Caller(name=f"bot:conversation:{ctx.turn.conversation_id}", role=Role.SYSTEM)


def money(cents: int | Decimal, language: str = "en") -> str:
    value = Decimal(cents) / 100 if isinstance(cents, int) else Decimal(cents)
    text = f"${abs(value):,.2f}"
    return f"-{text}" if value < 0 else text


def local_time(ctx: FlowContext, when: datetime | None) -> str:
    if when is None:
        return ctx.text("etr_unknown")
    local = when.astimezone(ZoneInfo(ctx.turn.settings.utility_timezone))
    if ctx.language == "es":
        return local.strftime("%d/%m %H:%M")
    return local.strftime("%b %d %I:%M %p").replace(" 0", " ")


def day(value: date | None) -> str:
    return value.isoformat() if value else "-"


def tail(number: str) -> str:
    return number[-4:]


def shown_label(ctx: FlowContext, choice: PremiseChoice) -> str:
    """The street address only for a known caller; a stranger sees the account's last digits."""
    if ctx.state.verification in {"caller_id", "verified"}:
        return choice.label
    return f"account ending {tail(choice.account_number)}"


async def known_premises(ctx: FlowContext) -> list[PremiseChoice]:
    """Caller ID first; else the account a stranger named earlier in this conversation."""
    known = await known_sender(ctx.session, ctx.turn.address)
    if known is not None:
        if ctx.state.verification == "none":
            ctx.state.verification = "caller_id"
        ctx.turn.extras.setdefault("first_name", known.first_name)
        return known.premises
    account_id = ctx.state.slots.get("named_account_id") or ctx.state.verified_account_id
    if account_id:
        return await premises_for_account(ctx.session, int(account_id))
    return []


def choice_from_slots(ctx: FlowContext) -> PremiseChoice | None:
    data = ctx.state.slots.get("premise")
    return PremiseChoice(**data) if isinstance(data, dict) else None


async def resolve_premise(ctx: FlowContext) -> PremiseChoice | None:
    """The premise this flow is about, or None after asking the customer which (or who)."""
    chosen = choice_from_slots(ctx)
    if chosen is not None:
        return chosen
    candidates = await known_premises(ctx)
    if not candidates:
        ask(ctx, "no_premise_found", step="need_account", expecting="account")
        return None
    # "OUT 2" or "OUT home" on a short code names the premise up front.
    named = ctx.entities.get("premise_nickname") or ctx.entities.get("premise_index")
    if named and ctx.state.flow != "register":
        match = pick_choice(str(named), [c.to_json() for c in candidates])
        if match:
            ctx.state.slots["premise"] = match
            return PremiseChoice(**match)
    if len(candidates) == 1:
        ctx.state.slots["premise"] = candidates[0].to_json()
        return candidates[0]
    ctx.state.choices = [c.to_json() for c in candidates]
    listed = "; ".join(
        f"{i}) {c.nickname + ': ' if c.nickname else ''}{shown_label(ctx, c)}"
        for i, c in enumerate(candidates, 1)
    )
    has_nick = any(c.nickname for c in candidates)
    ask(ctx, "pick_premise", step="pick_premise", expecting="choice", choices=listed,
        nick_hint=" or nickname" if has_nick and ctx.language == "en" else "",
        quick_replies=tuple(str(i) for i in range(1, len(candidates) + 1)))
    return None


async def answer_premise_question(ctx: FlowContext) -> bool:
    """Handle the reply to `pick_premise` or `need_account`; False if it isn't an answer."""
    if ctx.state.step == "pick_premise":
        match = pick_choice(ctx.turn.text, ctx.state.choices)
        if match is None:
            return False
        ctx.state.slots["premise"] = match
        ctx.state.choices = []
        return True
    if ctx.state.step == "need_account":
        found = _ACCOUNT_NUMBER.findall(ctx.turn.text)
        for number in found:
            account = await account_by_number(ctx.session, number)
            if account is not None:
                ctx.state.slots["named_account_id"] = account.id
                return True
        return False
    return False


async def continue_after_premise(
    ctx: FlowContext, advance: Callable[[FlowContext], Awaitable[None]]
) -> bool:
    """Take the answer to a premise question and carry on; False if the text wasn't one."""
    if not await answer_premise_question(ctx):
        return False
    await advance(ctx)
    return True


async def require_verified(ctx: FlowContext) -> int | None:
    """The proven account id, or None after asking the customer to prove who they are."""
    if ctx.state.verification == "verified" and ctx.state.verified_account_id:
        return ctx.state.verified_account_id
    if ctx.state.verify_attempts >= 3:
        ctx.say("verify_locked")
        ctx.state.finish()
        return None
    await known_premises(ctx)  # sets caller_id when the number is on file
    ask(ctx, "verify_ask", step="verify", expecting="verify")
    return None


async def answer_verification(ctx: FlowContext) -> bool | None:
    """True verified, False refused (and said so), None: the text isn't an attempt at all."""
    text = ctx.turn.text
    if not re.search(r"\d{5}", text):
        return None
    candidates = await known_premises(ctx)
    account_ids = sorted({c.account_id for c in candidates}) if ctx.state.verification != "none" else []
    outcome = await verify(ctx.session, text=text, candidate_account_ids=account_ids,
                           attempts=ctx.state.verify_attempts,
                           actor=f"conversation:{ctx.turn.conversation_id}")
    if outcome.verified:
        ctx.state.verification = "verified"
        ctx.state.verified_account_id = outcome.account_id
        ctx.state.verify_attempts = 0
        return True
    ctx.state.verify_attempts += 1
    if outcome.locked:
        ctx.say("verify_locked")
        ctx.state.finish()
    else:
        ask(ctx, "verify_failed", step="verify", expecting="verify", left=outcome.attempts_left)
    return False
