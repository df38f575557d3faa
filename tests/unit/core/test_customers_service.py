"""Finding a customer by phone in any format, email, account number, or name with ZIP."""

from __future__ import annotations

import pytest
from accountcore_factories import customer_with_account

from core.customers.service import add_contact, find_customers
from core.errors import Conflict, Invalid
from core.premises.service import add_service_point, create_premise


async def test_lookups(session) -> None:
    customer, account = await customer_with_account(session, email="Ngozi@Example.org",
                                                    zip_code="70112")
    other, _ = await customer_with_account(session, last_name="Okafor", zip_code="70001",
                                           phone="+15045550177")
    assert [c.id for c in await find_customers(session, phone="(504) 555-0101")] == [customer.id]
    assert [c.id for c in await find_customers(session, email="ngozi@example.ORG")] == [customer.id]
    assert [c.id for c in await find_customers(session, account_number=account.number)] == [
        customer.id]
    by_name = await find_customers(session, name="OKAFOR", zip_code="70001")
    assert [c.id for c in by_name] == [other.id]
    assert await find_customers(session, phone="+15045550000") == []


async def test_name_matches_the_zip_of_a_served_premise_too(session) -> None:
    customer, account = await customer_with_account(session, zip_code="70112")
    await create_premise(session, address="5 Bayou Ln", city="Riverbend", state="LA",
                         zip_code="70999", account_id=account.id, services=["water"])
    assert [c.id for c in await find_customers(session, name="okafor", zip_code="70999")] == [
        customer.id]


async def test_bad_lookups_and_duplicate_contacts(session) -> None:
    customer, _ = await customer_with_account(session)
    with pytest.raises(Invalid):
        await find_customers(session, name="Okafor")
    with pytest.raises(Invalid):
        await find_customers(session, phone="12")
    with pytest.raises(Conflict):
        await add_contact(session, customer_id=customer.id, kind="phone", value="504-555-0101")
    with pytest.raises(Invalid):
        await add_contact(session, customer_id=customer.id, kind="email", value="not-an-email")


async def test_service_points_are_unique_meters(session) -> None:
    _, account = await customer_with_account(session)
    premise = await create_premise(session, address="1 A St", city="R", state="LA",
                                   zip_code="70001", account_id=account.id,
                                   services=["electric"])
    await add_service_point(session, premise_id=premise.id, service_kind="electric",
                            meter_number="M-1")
    with pytest.raises(Conflict):
        await add_service_point(session, premise_id=premise.id, service_kind="electric",
                                meter_number="M-1")
    with pytest.raises(Invalid):
        await create_premise(session, address="2 A St", city="R", state="LA", zip_code="70001",
                             services=["plasma"])
