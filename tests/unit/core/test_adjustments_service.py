"""Adjustments within and above approval limits, approvals, rejections, and the audit trail."""

from __future__ import annotations

from decimal import Decimal

import pytest
from accountcore_factories import (
    ADMIN,
    AGENT,
    AGENT_2,
    INTEGRATION,
    SUPERVISOR,
    customer_with_account,
)
from sqlalchemy import func, select

from core.adjustments.models import AdjustmentRequest
from core.adjustments.policy import AdjustmentLimits
from core.adjustments.service import approve_adjustment, reject_adjustment, request_adjustment
from core.audit.models import AuditEntry
from core.billing.models import LedgerEntry
from core.billing.repository import balance_cents
from core.errors import Conflict, Forbidden, Invalid

LIMITS = AdjustmentLimits(agent=Decimal("100.00"), supervisor=Decimal("1000.00"))


async def test_within_limit_posts_at_once(session) -> None:
    _, account = await customer_with_account(session)
    outcome = await request_adjustment(session, caller=AGENT, account_id=account.id,
                                       amount=Decimal("-100.00"), reason="billing error",
                                       limits=LIMITS)
    assert outcome.posted and outcome.request.status == "approved"
    assert await balance_cents(session, account_id=account.id) == -10_000
    audit = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "adjustment.post"))
             ).one()
    assert audit.reason == "billing error" and audit.after["balance"] == "-100.00"


async def test_above_limit_waits_and_a_supervisor_approves(session) -> None:
    _, account = await customer_with_account(session)
    outcome = await request_adjustment(session, caller=AGENT, account_id=account.id,
                                       amount=Decimal("-100.01"), reason="estimated read",
                                       limits=LIMITS)
    assert not outcome.posted and outcome.request.status == "pending"
    assert await balance_cents(session, account_id=account.id) == 0

    with pytest.raises(Forbidden, match="requested"):
        await approve_adjustment(session, caller=AGENT, request_id=outcome.request.id,
                                 limits=LIMITS)
    with pytest.raises(Forbidden, match="limit"):
        await approve_adjustment(session, caller=AGENT_2, request_id=outcome.request.id,
                                 limits=LIMITS)
    approved = await approve_adjustment(session, caller=SUPERVISOR,
                                        request_id=outcome.request.id, limits=LIMITS)
    assert approved.posted and approved.request.decided_by == "token:sue"
    assert await balance_cents(session, account_id=account.id) == -10_001
    with pytest.raises(Conflict):
        await approve_adjustment(session, caller=ADMIN, request_id=outcome.request.id,
                                 limits=LIMITS)


async def test_above_supervisor_limit_needs_admin(session) -> None:
    _, account = await customer_with_account(session)
    outcome = await request_adjustment(session, caller=SUPERVISOR, account_id=account.id,
                                       amount=Decimal("5000.00"), reason="meter swap backbill",
                                       limits=LIMITS)
    assert not outcome.posted
    with pytest.raises(Forbidden):
        await approve_adjustment(session, caller=SUPERVISOR, request_id=outcome.request.id,
                                 limits=LIMITS)
    await approve_adjustment(session, caller=ADMIN, request_id=outcome.request.id, limits=LIMITS)
    assert await balance_cents(session, account_id=account.id) == 500_000


async def test_rejection_posts_nothing_and_is_audited(session) -> None:
    _, account = await customer_with_account(session)
    outcome = await request_adjustment(session, caller=AGENT, account_id=account.id,
                                       amount=Decimal("-250.00"), reason="goodwill",
                                       limits=LIMITS)
    rejected = await reject_adjustment(session, caller=SUPERVISOR, request_id=outcome.request.id,
                                       limits=LIMITS, reason="no basis")
    assert rejected.status == "rejected"
    assert await session.scalar(select(func.count()).select_from(LedgerEntry)) == 0
    actions = set(await session.scalars(select(AuditEntry.action)))
    assert {"adjustment.request", "adjustment.reject"} <= actions


async def test_roles_without_a_limit_and_bad_input_write_nothing(session) -> None:
    _, account = await customer_with_account(session)
    with pytest.raises(Forbidden):
        await request_adjustment(session, caller=INTEGRATION, account_id=account.id,
                                 amount=Decimal("1.00"), reason="x", limits=LIMITS)
    with pytest.raises(Invalid):
        await request_adjustment(session, caller=AGENT, account_id=account.id,
                                 amount=Decimal(0), reason="x", limits=LIMITS)
    with pytest.raises(Invalid):
        await request_adjustment(session, caller=AGENT, account_id=account.id,
                                 amount=Decimal("1.00"), reason="  ", limits=LIMITS)
    assert await session.scalar(select(func.count()).select_from(AdjustmentRequest)) == 0
