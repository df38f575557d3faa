"""The page a payment link opens. In the embedded default it is a sandbox checkout: the payment
is posted to the ledger as a card payment, no card is asked for, nothing leaves the machine.
A production deployment points links at its PCI-compliant processor instead."""

from __future__ import annotations

import html
from decimal import Decimal

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from core.accounts.models import Account
from core.auth.service import Caller
from core.billing.service import post_payment
from core.enums import Role
from core.errors import DomainError, NotFound
from core.http import DbSession, RuntimeDep
from core.money import from_cents
from core.payments.service import consume_link, open_link

router = APIRouter(prefix="/pay", tags=["payments"], include_in_schema=False)

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{title}</title><style>
body{{font:16px/1.5 system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#123}}
.card{{border:1px solid #cdd;border-radius:.6rem;padding:1.5rem}}
button{{font:inherit;padding:.6rem 1.2rem;border:0;border-radius:.4rem;background:#0b5;color:#fff}}
.note{{color:#567;font-size:.9rem}}</style></head><body><main class="card">{body}</main></body></html>"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=html.escape(title), body=body), status_code=status)


def _sandbox(runtime: RuntimeDep) -> None:
    if runtime.settings.env == "production":
        raise NotFound("payment links open the utility's payment processor in production")


@router.get("/{token}", response_class=HTMLResponse)
async def show(token: str, session: DbSession, runtime: RuntimeDep) -> HTMLResponse:
    _sandbox(runtime)
    try:
        link = await open_link(session, token=token,
                               secret=runtime.settings.secret_key.get_secret_value())
    except DomainError as exc:
        return _page("Payment link", f"<h1>Payment link</h1><p>{html.escape(exc.message)}</p>",
                     exc.status_code)
    account = await session.get(Account, link.account_id)
    tail = account.number[-4:] if account else "????"
    amount = from_cents(link.amount_cents)
    body = (f"<h1>{html.escape(runtime.settings.utility_name)}</h1>"
            f"<p>Account ending <b>{tail}</b></p><p>Amount: <b>${amount:,.2f}</b></p>"
            f'<form method="post"><button type="submit">Pay ${amount:,.2f}</button></form>'
            '<p class="note">Sandbox checkout: no card is needed and no money moves.</p>')
    return _page("Pay your bill", body)


@router.post("/{token}", response_class=HTMLResponse)
async def pay(token: str, session: DbSession, runtime: RuntimeDep) -> HTMLResponse:
    _sandbox(runtime)
    secret = runtime.settings.secret_key.get_secret_value()
    try:
        link = await open_link(session, token=token, secret=secret)
        result = await post_payment(
            session, caller=Caller(name="payment-link", role=Role.SYSTEM),
            account_id=link.account_id, amount=Decimal(link.amount_cents) / 100, method="card",
            reference=f"paylink:{link.id}", memo="payment link (sandbox)")
        await consume_link(session, link=link, ledger_entry_id=result.payment.id)
    except DomainError as exc:
        return _page("Payment link", f"<h1>Payment link</h1><p>{html.escape(exc.message)}</p>",
                     exc.status_code)
    return _page("Thank you", f"<h1>Thank you</h1><p>Payment of "
                 f"<b>${from_cents(link.amount_cents):,.2f}</b> received. "
                 f"New balance: ${result.balance:,.2f}.</p>")
