"""PAY by text → a signed single-use link → the checkout posts the payment, once."""

from __future__ import annotations

import re

from sqlalchemy import select

from core.accounts.models import Account
from core.billing import repository as ledger
from tests.bot_helpers import Phone, persona, seeded_utility


async def _balance(harness, number: str) -> int:
    async with harness.runtime.sessions() as session:
        account_id = await session.scalar(select(Account.id).where(Account.number == number))
        return await ledger.balance_cents(session, account_id=account_id)


async def test_payment_link_pays_once_and_refuses_tampering(db_url: str) -> None:
    async with seeded_utility(db_url) as harness:
        tanya = persona("past_due")
        before = await _balance(harness, tanya.account_number)
        assert before > 0
        (reply,) = await Phone(harness, tanya.phone).text("PAY")
        path = re.search(r"https://stormdesk\.example\.org(/pay/\S+)", reply).group(1)
        client = harness.client

        page = await client.get(path)
        assert page.status_code == 200, (path, page.text)
        assert tanya.account_number[-4:] in page.text
        tampered = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
        assert (await client.post(tampered)).status_code == 403
        assert await _balance(harness, tanya.account_number) == before

        paid = await client.post(path)
        assert paid.status_code == 200 and "Thank you" in paid.text
        assert await _balance(harness, tanya.account_number) == 0
        again = await client.post(path)
        assert again.status_code == 409 and "already used" in again.text
        assert await _balance(harness, tanya.account_number) == 0
