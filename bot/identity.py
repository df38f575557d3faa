"""Who is texting, and which premises and accounts they may mean. Read-only lookups."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.accounts.models import Account
from core.customers.models import Contact, Customer
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


def premise_label(premise: Premise) -> str:
    unit = f" {premise.unit}" if premise.unit else ""
    return f"{premise.address}{unit}"


async def customers_for_address(session: AsyncSession, address: str) -> list[Customer]:
    """Every customer with this phone or email on file (a household can share one number)."""
    rows = await session.execute(
        select(Customer).join(Contact, Contact.customer_id == Customer.id)
        .where(Contact.value == address).order_by(Customer.id)
    )
    return list(rows.scalars().unique())


async def premises_for_customers(
    session: AsyncSession, customer_ids: list[int]
) -> list[PremiseChoice]:
    if not customer_ids:
        return []
    rows = await session.execute(
        select(Premise, Account)
        .join(Account, Premise.account_id == Account.id)
        .where(Account.customer_id.in_(customer_ids), Account.status.in_(("active", "pending")))
        .order_by(Premise.id)
    )
    return [
        PremiseChoice(premise_id=p.id, account_id=a.id, account_number=a.number,
                      label=premise_label(p), nickname=p.nickname, zip=p.zip)
        for p, a in rows.all()
    ]


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
