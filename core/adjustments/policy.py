"""Approval limits (internal controls): who may post an adjustment, and who must approve it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from core.config import Settings
from core.enums import Role
from core.money import to_cents


@dataclass(frozen=True, slots=True)
class AdjustmentLimits:
    """Largest absolute adjustment each role may post alone; None means no limit."""

    agent: Decimal = Decimal("100.00")
    supervisor: Decimal = Decimal("1000.00")

    @classmethod
    def from_settings(cls, settings: Settings) -> AdjustmentLimits:
        return cls(agent=settings.agent_adjustment_limit,
                   supervisor=settings.supervisor_adjustment_limit)

    def limit_cents(self, role: Role) -> int | None:
        """None: unlimited. 0: this role may not adjust at all."""
        if role is Role.ADMIN:
            return None
        if role is Role.SUPERVISOR:
            return to_cents(self.supervisor)
        if role is Role.AGENT:
            return to_cents(self.agent)
        return 0


class AdjustmentDecision(StrEnum):
    POST = "post"  # within the caller's limit
    REQUEST_APPROVAL = "request_approval"  # above it: someone whose limit covers it decides
    FORBIDDEN = "forbidden"  # this role may not adjust


def decide_adjustment(
    *, role: Role, amount_cents: int, limits: AdjustmentLimits
) -> AdjustmentDecision:
    limit = limits.limit_cents(role)
    if limit == 0:
        return AdjustmentDecision.FORBIDDEN
    if limit is None or abs(amount_cents) <= limit:
        return AdjustmentDecision.POST
    return AdjustmentDecision.REQUEST_APPROVAL


def approval_refusal(
    *, approver: str, approver_role: Role, requested_by: str, amount_cents: int,
    limits: AdjustmentLimits,
) -> str | None:
    """Why this person may not approve this request, or None when they may.

    Segregation of duties: nobody approves their own request, whatever their limit.
    """
    if approver == requested_by:
        return "an adjustment cannot be approved by the person who requested it"
    limit = limits.limit_cents(approver_role)
    if limit == 0:
        return f"role {approver_role.value} may not approve adjustments"
    if limit is not None and abs(amount_cents) > limit:
        return f"the amount is above the {approver_role.value} approval limit"
    return None
