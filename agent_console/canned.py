"""Canned responses: per-queue templates with {placeholders} filled from the conversation.

Unknown placeholders stay as written, so a typo in a template shows instead of failing, and
nothing about the account is filled in unless the agent may see that account."""

from __future__ import annotations

import string
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_console import conversations
from core.accounts.models import Account
from core.agents import repository
from core.agents.models import CannedResponse
from core.agents.policy import parse_skill
from core.auth.service import Caller
from core.billing import repository as ledger
from core.billing import service as billing
from core.config import Settings
from core.outages.service import outage_for_premise
from core.premises import repository as premises


class _Keep(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render(template: str, values: dict[str, str]) -> str:
    try:
        return string.Formatter().vformat(template, (), _Keep(values))
    except (ValueError, IndexError):  # a stray brace: show the template as written
        return template


async def placeholder_values(session: AsyncSession, settings: Settings, *, conversation_id: int,
                             caller: Caller) -> dict[str, str]:
    conversation = await conversations.get_conversation(session, conversation_id)
    agent = await repository.get_agent(session, agent_id=caller.agent_id or 0)
    values = {
        "agent_name": agent.display_name.split(" ")[0],
        "utility_name": settings.utility_name,
        "utility_phone": settings.utility_phone,
        "customer_name": (await conversations.customer_name(session, conversation.customer_id)
                          or "there").split(" ")[0],
    }
    if conversation.customer_id is not None:
        accounts = list(await session.scalars(select(Account).where(
            Account.customer_id == conversation.customer_id).order_by(Account.id)))
        if len(accounts) == 1:  # with several accounts the agent picks; no guessing here
            account = accounts[0]
            values["account_number"] = account.number
            values["balance"] = f"${await billing.balance(session, account_id=account.id):,.2f}"
            bills = await ledger.recent_bills(session, account_id=account.id, limit=1)
            if bills:
                values["due_date"] = bills[0].due_on.strftime("%B %-d")
            for premise in await premises.of_account(session, account_id=account.id):
                outage = await outage_for_premise(session, premise.id)
                if outage is not None and outage.etr is not None:
                    values["etr"] = outage.etr.astimezone(ZoneInfo(settings.utility_timezone)) \
                        .strftime("%-I:%M %p %b %-d")
                    break
    return values


async def for_conversation(session: AsyncSession, settings: Settings, *, conversation_id: int,
                           caller: Caller) -> list[dict[str, Any]]:
    conversation = await conversations.get_conversation(session, conversation_id)
    rows = await session.scalars(select(CannedResponse).where(
        CannedResponse.active,
        or_(CannedResponse.skill.is_(None),
            CannedResponse.skill == parse_skill(conversation.skill or "").value),
    ).order_by(CannedResponse.skill.is_(None), CannedResponse.shortcut))
    values = await placeholder_values(session, settings, conversation_id=conversation_id,
                                      caller=caller)
    return [{"id": r.id, "shortcut": r.shortcut, "title": r.title, "language": r.language,
             "skill": r.skill, "template": r.body, "text": render(r.body, values)}
            for r in rows]
