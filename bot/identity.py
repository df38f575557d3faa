"""Who is texting, and which premises and accounts they may mean. Read-only lookups."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.accounts.models import Account
from core.customers.models import Contact, Customer
from core.db import rows_at_once
from core.premises.models import Premise


@dataclass(frozen=True, slots=True)
class PremiseChoice:
    premise_id: int
    account_id: int
    account_number: str
    label: str
    nickname: str | None
    zip: str

    def to_json(self) -> dict[str, object]:
        return {"premise_id": self.premise_id, "account_id": self.account_id,
                "account_number": self.account_number, "label": self.label,
                "nickname": self.nickname, "zip": self.zip}


class Addressed(Protocol):
    """A Premise, or a result row with its address and unit."""

    @property
    def address(self) -> str: ...

    @property
    def unit(self) -> str | None: ...


def premise_label(premise: Addressed) -> str:
    """A premise's street line."""
    unit = f" {premise.unit}" if premise.unit else ""
    return f"{premise.address}{unit}"


@dataclass(frozen=True, slots=True)
class KnownSender:
    """The customers with this phone or email on file (a household can share one number):
    the first one's name, and every premise on their active or pending accounts."""

    first_name: str | None
    premises: list[PremiseChoice]


# One statement, built once (the bot asks on most turns): customers, their open accounts and
# the premises on them, instead of a customer query and then a premise query. Outer joins,
# so a customer with no open account is still known, with no premises.
_KNOWN_SENDER = (
    select(Customer.id.label("customer_id"), Customer.first_name, Premise.id.label("premise_id"),
           Premise.address, Premise.unit, Premise.nickname, Premise.zip,
           Account.id.label("account_id"), Account.number)
    .select_from(Contact).join(Customer, Customer.id == Contact.customer_id)
    .outerjoin(Account, and_(Account.customer_id == Customer.id,
                             Account.status.in_(("active", "pending"))))
    .outerjoin(Premise, Premise.account_id == Account.id)
    .where(Contact.value == bindparam("address"))
    .order_by(Premise.id, Customer.id)
)


async def known_sender(session: AsyncSession, address: str) -> KnownSender | None:
    """Who has this address on file; None if nobody does."""
    # Often a turn's first statement: read outside its transaction (see db.rows_at_once), so a
    # status question that writes nothing but its handled mark needs no BEGIN or COMMIT.
    rows = await rows_at_once(session, _KNOWN_SENDER, {"address": address})
    if not rows:
        return None
    first = min(rows, key=lambda r: r.customer_id)
    premises: dict[int, PremiseChoice] = {}
    for r in rows:
        if r.premise_id is not None and r.premise_id not in premises:
            premises[r.premise_id] = PremiseChoice(
                premise_id=r.premise_id, account_id=r.account_id, account_number=r.number,
                label=premise_label(r), nickname=r.nickname, zip=r.zip)
    return KnownSender(first_name=first.first_name, premises=list(premises.values()))


async def premises_for_account(session: AsyncSession, account_id: int) -> list[PremiseChoice]:
    rows = await session.execute(
        select(Premise, Account).join(Account, Premise.account_id == Account.id)
        .where(Account.id == account_id).order_by(Premise.id)
    )
    return [
        PremiseChoice(premise_id=p.id, account_id=a.id, account_number=a.number,
                      label=premise_label(p), nickname=p.nickname, zip=p.zip)
        for p, a in rows.all()
    ]


async def account_by_number(session: AsyncSession, number: str) -> Account | None:
    return (
        await session.execute(select(Account).where(Account.number == number))
    ).scalar_one_or_none()
