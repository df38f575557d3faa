"""The account core's operator routers (/api/v1), listed once for the composition root."""

from __future__ import annotations

from fastapi import APIRouter


def account_core_routers() -> list[APIRouter]:
    from core.accounts.views import collections_router
    from core.accounts.views import router as accounts
    from core.adjustments.views import router as adjustments
    from core.arrangements.views import router as arrangements
    from core.billing.views import router as payments
    from core.customers.views import router as customers
    from core.deposits.views import router as deposits
    from core.premises.views import router as premises
    from core.service_orders.views import router as service_orders

    return [customers, accounts, premises, payments, adjustments, arrangements, deposits,
            service_orders, collections_router]
