"""Who may touch account data over HTTP, as dependency aliases (every route needs a token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from core.auth.service import Caller
from core.enums import Role
from core.http import require_role

# Admin is always allowed (require_role adds it). Operations (the outage side) sees no ledgers.
AccountReader = Annotated[Caller, Depends(require_role(
    Role.AGENT, Role.SUPERVISOR, Role.INTEGRATION, Role.SYSTEM))]
# Payment processors and bank-return feeds come in as integrations.
MoneyPoster = Annotated[Caller, Depends(require_role(
    Role.AGENT, Role.SUPERVISOR, Role.INTEGRATION, Role.SYSTEM))]
# Arrangements, service orders, deposits: specialists and the bot's system identity.
AccountClerk = Annotated[Caller, Depends(require_role(
    Role.AGENT, Role.SUPERVISOR, Role.SYSTEM))]
