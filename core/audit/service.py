"""One way to write the audit trail, so every financial action records the same facts."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.audit.models import AuditEntry
from core.auth.service import Caller
from core.clock import utcnow


async def record_audit(
    session: AsyncSession,
    *,
    caller: Caller,
    action: str,
    entity: str,
    entity_id: int | str | None,
    account_id: int | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
) -> AuditEntry:
    """Who (actor and role), what (action on entity), why, and the state before and after."""
    entry = AuditEntry(
        at=utcnow(),
        actor=caller.name[:80],
        actor_role=caller.role.value,
        action=action[:40],
        entity=entity[:40],
        entity_id=None if entity_id is None else str(entity_id),
        account_id=account_id,
        before=before,
        after=after,
        reason=None if reason is None else reason[:200],
    )
    session.add(entry)
    await session.flush()
    return entry
