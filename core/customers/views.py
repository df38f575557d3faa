"""Operator API: find and create customers."""

from __future__ import annotations

from fastapi import APIRouter, Query, status
from sqlalchemy.ext.asyncio import AsyncSession

from core.accounts import repository as accounts
from core.accounts.access import AccountClerk, AccountReader
from core.customers import repository
from core.customers.models import Customer
from core.customers.schemas import AccountBrief, ContactOut, CustomerIn, CustomerOut
from core.customers.service import add_contact, create_customer, find_customers
from core.http import DbSession, RuntimeDep

router = APIRouter(prefix="/api/v1/customers", tags=["customers"])


async def customer_out(session: AsyncSession, customer: Customer) -> CustomerOut:
    out = CustomerOut.model_validate(customer)
    out.contacts = [ContactOut.model_validate(c)
                    for c in await repository.contacts_of(session, customer_id=customer.id)]
    out.accounts = [AccountBrief.model_validate(a)
                    for a in await accounts.of_customer(session, customer_id=customer.id)]
    return out


@router.get("", response_model=list[CustomerOut], summary="Find customers")
async def lookup(
    session: DbSession,
    runtime: RuntimeDep,
    _caller: AccountReader,
    phone: str | None = Query(default=None, description="Any format; matched as E.164."),
    email: str | None = None,
    account_number: str | None = None,
    name: str | None = Query(default=None, description="Last or business name; needs zip."),
    zip: str | None = None,
) -> list[CustomerOut]:
    """By phone, email, account number, or name with ZIP (422 without one of them)."""
    found = await find_customers(session, phone=phone, email=email,
                                 account_number=account_number, name=name, zip_code=zip,
                                 region=runtime.settings.default_region)
    return [await customer_out(session, c) for c in found]


@router.post("", response_model=CustomerOut, status_code=status.HTTP_201_CREATED)
async def create(
    body: CustomerIn, session: DbSession, runtime: RuntimeDep, _caller: AccountClerk
) -> CustomerOut:
    customer = await create_customer(session, **body.model_dump(exclude={"contacts"}))
    for contact in body.contacts:
        await add_contact(session, customer_id=customer.id,
                          region=runtime.settings.default_region, **contact.model_dump())
    return await customer_out(session, customer)


@router.get("/{customer_id}", response_model=CustomerOut)
async def read(customer_id: int, session: DbSession, _caller: AccountReader) -> CustomerOut:
    return await customer_out(session,
                              await repository.get_customer(session, customer_id=customer_id))
