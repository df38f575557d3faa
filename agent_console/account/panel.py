"""The account panel beside the transcript: what a specialist looks at first, read through the
core's own summary, plus the outage picture of every premise."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_console import conversations
from core.accounts.flows import account_summary
from core.accounts.models import Account
from core.adjustments.models import AdjustmentRequest
from core.agents.models import AccountNote
from core.billing.models import LedgerEntry
from core.money import from_cents
from core.outages.service import outage_for_premise
from core.premises import repository as premises


async def outage_status(session: AsyncSession, premise_id: int) -> dict[str, Any] | None:
    outage = await outage_for_premise(session, premise_id)
    if outage is None:
        return None
    return {
        "outage_id": outage.id,
        "status": outage.status,
        "cause": outage.cause,
        "crew": outage.crew,
        "customers_affected": outage.customers_affected,
        "etr": outage.etr.isoformat() if outage.etr else None,
        "started_at": outage.started_at.isoformat(),
    }


async def notes_of(session: AsyncSession, account_id: int, *, limit: int = 20) -> list[dict[str, Any]]:
    rows = await session.scalars(select(AccountNote).where(AccountNote.account_id == account_id)
                                 .order_by(AccountNote.id.desc()).limit(limit))
    return [{"note_id": n.id, "agent_id": n.agent_id, "body": n.body,
             "conversation_id": n.conversation_id, "at": n.created_at.isoformat()} for n in rows]


async def fees_of(session: AsyncSession, account_id: int, *, limit: int = 10) -> list[dict[str, Any]]:
    """Recent fees, each with whether a waiver is already posted or waiting (so the panel
    offers a waiver only once)."""
    rows = list(await session.scalars(
        select(LedgerEntry).where(LedgerEntry.account_id == account_id, LedgerEntry.kind == "fee")
        .order_by(LedgerEntry.id.desc()).limit(limit)))
    waivers = dict((await session.execute(
        select(AdjustmentRequest.code, AdjustmentRequest.status).where(
            AdjustmentRequest.account_id == account_id,
            AdjustmentRequest.code.in_([f"waive:{r.id}" for r in rows]),
            AdjustmentRequest.status.in_(["pending", "approved"])))).all())
    return [{"ledger_entry_id": r.id, "amount": str(from_cents(r.amount_cents)),
             "memo": r.memo, "code": r.code, "posted_at": r.posted_at.isoformat(),
             "waiver": waivers.get(f"waive:{r.id}")} for r in rows]


async def account_panel(session: AsyncSession, *, account_id: int) -> dict[str, Any]:
    """Balance and aging, bills, payments, arrangements, deposits, open orders (the core's
    summary), each premise with its live outage, and the agents' notes."""
    summary = (await account_summary(session, account_id=account_id)).model_dump(mode="json")
    premise_rows = []
    for premise in await premises.of_account(session, account_id=account_id):
        premise_rows.append({
            "premise_id": premise.id, "address": premise.address, "unit": premise.unit,
            "city": premise.city, "zip": premise.zip, "nickname": premise.nickname,
            "outage": await outage_status(session, premise.id),
        })
    return {**summary, "premise_outages": premise_rows, "fees": await fees_of(session, account_id),
            "notes": await notes_of(session, account_id)}


async def accounts_for_conversation(session: AsyncSession, *,
                                    conversation_id: int) -> dict[str, Any]:
    """The customer's accounts, briefly; the agent opens one for the full panel."""
    conversation = await conversations.get_conversation(session, conversation_id)
    if conversation.customer_id is None:
        return {"conversation_id": conversation_id, "customer_id": None, "accounts": [],
                "hint": "the customer is not identified: link an account by its number"}
    rows = await session.scalars(select(Account).where(
        Account.customer_id == conversation.customer_id).order_by(Account.id))
    briefs = []
    for account in rows:
        summary = await account_summary(session, account_id=account.id, history=1)
        briefs.append({"account_id": account.id, "number": account.number,
                       "kind": account.kind, "status": account.status,
                       "balance": str(summary.balance), "past_due": str(summary.aging.past_due),
                       "collection_stage": account.collection_stage,
                       "disconnect_pending": account.disconnect_pending})
    return {"conversation_id": conversation_id, "customer_id": conversation.customer_id,
            "customer_name": await conversations.customer_name(session,
                                                               conversation.customer_id),
            "accounts": briefs}
