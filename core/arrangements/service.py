"""Arrangement verbs: the offer the policy allows, creating one, and marking one broken."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from core.accounts.models import Account
from core.accounts.repository import get_account
from core.arrangements import repository
from core.arrangements.models import Arrangement, Installment
from core.arrangements.policy import (
    DEFAULT_ARRANGEMENT_POLICY,
    ArrangementFacts,
    ArrangementOffer,
    ArrangementPolicy,
    ArrangementRefusal,
    evaluate_arrangement,
    installment_schedule,
)
from core.audit.service import record_audit
from core.auth.service import Caller
from core.billing import repository as ledger
from core.billing.policy import age_balance
from core.clock import today as clock_today
from core.errors import Conflict, Invalid, NotFound, PolicyRefused
from core.money import from_cents

ARRANGEMENT_HOLD = "arrangement"


async def arrangement_facts(session: AsyncSession, *, account: Account, today: date) -> ArrangementFacts:
    aging = age_balance(
        balance_cents=await ledger.balance_cents(session, account_id=account.id),
        items=await ledger.aging_items(session, account_id=account.id),
        today=today,
    )
    return ArrangementFacts(
        past_due_cents=aging.past_due_cents,
        today=today,
        in_active_arrangement=await repository.active_for(session, account_id=account.id) is not None,
        last_broken_on=await repository.last_broken_on(session, account_id=account.id),
        cash_only=account.cash_only,
        energy_assistance=account.energy_assistance,
        in_bankruptcy=account.bankruptcy_filed_on is not None,
        account_status=account.status,
    )


async def arrangement_offer(
    session: AsyncSession, *, account_id: int, today: date | None = None,
    policy: ArrangementPolicy = DEFAULT_ARRANGEMENT_POLICY,
) -> ArrangementOffer | ArrangementRefusal:
    """What this account may be offered today; the bot offers exactly this and nothing else."""
    account = await get_account(session, account_id=account_id)
    facts = await arrangement_facts(session, account=account, today=today or clock_today())
    return evaluate_arrangement(facts, policy)


async def create_arrangement(
    session: AsyncSession,
    *,
    caller: Caller,
    account_id: int,
    installments: int,
    today: date | None = None,
    policy: ArrangementPolicy = DEFAULT_ARRANGEMENT_POLICY,
) -> tuple[Arrangement, list[Installment]]:
    """Create it on the policy's terms, and hold any pending disconnect for this debt."""
    day = today or clock_today()
    account = await get_account(session, account_id=account_id, for_update=True)
    decision = evaluate_arrangement(await arrangement_facts(session, account=account, today=day),
                                    policy)
    if isinstance(decision, ArrangementRefusal):
        raise PolicyRefused(decision.reason, code=decision.code)
    if not decision.min_installments <= installments <= decision.max_installments:
        raise Invalid(
            f"choose between {decision.min_installments} and {decision.max_installments} "
            "installments",
            min_installments=decision.min_installments, max_installments=decision.max_installments,
        )
    arrangement = Arrangement(
        account_id=account.id, status="active", total_cents=decision.total_cents,
        down_payment_cents=decision.down_payment_cents, installment_count=installments,
        created_on=day, created_by=caller.name[:80],
    )
    session.add(arrangement)
    await session.flush()
    rows = [
        Installment(arrangement_id=arrangement.id, seq=s.seq, due_on=s.due_on,
                    amount_cents=s.amount_cents, paid_cents=0)
        for s in installment_schedule(decision, installments=installments, today=day)
    ]
    session.add_all(rows)
    before = {"disconnect_pending": account.disconnect_pending,
              "disconnect_hold_reason": account.disconnect_hold_reason}
    if account.disconnect_pending or account.collection_stage in {"disconnect_notice",
                                                                  "disconnect_list"}:
        account.disconnect_hold_reason = ARRANGEMENT_HOLD
    await session.flush()
    await record_audit(
        session, caller=caller, action="arrangement.create", entity="arrangement",
        entity_id=arrangement.id, account_id=account.id, before=before,
        after={"total": str(from_cents(decision.total_cents)),
               "down_payment": str(from_cents(decision.down_payment_cents)),
               "installments": installments,
               "disconnect_hold_reason": account.disconnect_hold_reason},
        reason="payment arrangement accepted",
    )
    return arrangement, rows


async def break_overdue_arrangement(
    session: AsyncSession, *, caller: Caller, account_id: int, today: date | None = None,
    grace_days: int = 5,
) -> Arrangement | None:
    """An installment unpaid past its grace period breaks the arrangement; returns it if so."""
    day = today or clock_today()
    arrangement = await repository.active_for(session, account_id=account_id)
    if arrangement is None:
        return None
    overdue = [
        i for i in await repository.installments_of(session, arrangement_id=arrangement.id)
        if i.paid_cents < i.amount_cents and i.due_on + timedelta(days=grace_days) < day
    ]
    if not overdue:
        return None
    return await mark_broken(session, caller=caller, arrangement_id=arrangement.id, today=day,
                             reason=f"installment {overdue[0].seq} unpaid since {overdue[0].due_on}")


async def mark_broken(
    session: AsyncSession, *, caller: Caller, arrangement_id: int, today: date | None = None,
    reason: str = "installment not paid",
) -> Arrangement:
    arrangement = await session.get(Arrangement, arrangement_id)
    if arrangement is None:
        raise NotFound(f"arrangement {arrangement_id} not found")
    if arrangement.status != "active":
        raise Conflict(f"arrangement {arrangement_id} is {arrangement.status}")
    account = await get_account(session, account_id=arrangement.account_id, for_update=True)
    arrangement.status = "broken"
    arrangement.ended_on = today or clock_today()
    if account.disconnect_hold_reason == ARRANGEMENT_HOLD:
        account.disconnect_hold_reason = None
    await session.flush()
    await record_audit(
        session, caller=caller, action="arrangement.break", entity="arrangement",
        entity_id=arrangement.id, account_id=account.id, before={"status": "active"},
        after={"status": "broken"}, reason=reason,
    )
    return arrangement
