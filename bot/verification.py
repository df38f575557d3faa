"""How sure are we who is asking? What the bot discloses depends on it.

Levels: `none` (a stranger), `caller_id` (the phone or email is on file: enough for outage
reports and status at their own premises), `verified` (caller ID plus account number or
ZIP + last name; or, from an unknown number, account number plus ZIP and last name: enough
for balances and payment arrangements). Failed attempts are limited and audited.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.accounts.models import Account
from core.audit.models import AuditEntry
from core.customers.models import Customer
from core.premises.models import Premise

MAX_ATTEMPTS = 3
_DIGITS = re.compile(r"\d{5,12}")
_ZIP = re.compile(r"\b\d{5}\b")
_WORD = re.compile(r"[^\W\d_]{2,}", re.UNICODE)


@dataclass(frozen=True, slots=True)
class VerifyOutcome:
    verified: bool
    account_id: int | None = None
    locked: bool = False
    attempts_left: int = MAX_ATTEMPTS


async def _zips_for(session: AsyncSession, account: Account, customer: Customer) -> set[str]:
    zips = {customer.mailing_zip} if customer.mailing_zip else set()
    rows = await session.execute(select(Premise.zip).where(Premise.account_id == account.id))
    zips.update(z for z in rows.scalars() if z)
    return {z[:5] for z in zips}


def _last_name_matches(text: str, customer: Customer) -> bool:
    words = {w.lower() for w in _WORD.findall(text)}
    names = {(customer.last_name or "").lower(), (customer.business_name or "").lower()}
    names |= {part for n in list(names) for part in n.split()}
    return bool(words & {n for n in names if n})


async def verify(
    session: AsyncSession, *, text: str, candidate_account_ids: list[int], attempts: int,
    actor: str,
) -> VerifyOutcome:
    """Check a customer's answer against the accounts they might be; audit every failure."""
    if attempts >= MAX_ATTEMPTS:
        return VerifyOutcome(verified=False, locked=True, attempts_left=0)
    numbers = set(_DIGITS.findall(text))
    zips = set(_ZIP.findall(text))
    known_caller = bool(candidate_account_ids)
    accounts: list[Account] = []
    if candidate_account_ids:
        accounts = list((await session.execute(
            select(Account).where(Account.id.in_(candidate_account_ids)))).scalars())
    elif numbers:
        accounts = list((await session.execute(
            select(Account).where(Account.number.in_(numbers)))).scalars())
    for account in accounts:
        customer = await session.get(Customer, account.customer_id)
        if customer is None:
            continue
        account_zips = await _zips_for(session, account, customer)
        has_number = account.number in numbers
        has_zip = bool(zips & account_zips)
        has_name = _last_name_matches(text, customer)
        # A known caller proves one more thing; a stranger must prove the number, ZIP and name.
        ok = (has_number or (has_zip and has_name)) if known_caller else (
            has_number and has_zip and has_name)
        if ok:
            return VerifyOutcome(verified=True, account_id=account.id,
                                 attempts_left=MAX_ATTEMPTS - attempts)
    session.add(AuditEntry(actor=actor, actor_role="customer", action="verification_failed",
                           entity="conversation", reason=f"attempt {attempts + 1}"))
    left = MAX_ATTEMPTS - attempts - 1
    return VerifyOutcome(verified=False, locked=left <= 0, attempts_left=max(left, 0))
