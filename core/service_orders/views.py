"""Operator API: open service orders (start, stop, transfer, re-read, leak) and complete them."""

from __future__ import annotations

from fastapi import APIRouter, status

from core.accounts.access import AccountClerk
from core.accounts.flows import order_out
from core.accounts.schemas import ServiceOrderOut
from core.adjustments.policy import AdjustmentLimits
from core.errors import Invalid
from core.http import DbSession, RuntimeDep
from core.service_orders import flows, service
from core.service_orders.repository import get_order
from core.service_orders.schemas import (
    CompleteIn,
    LeakAdjustmentIn,
    MeterRereadIn,
    ServiceOrderIn,
    StartIn,
    StopIn,
    TransferIn,
)

router = APIRouter(prefix="/api/v1", tags=["service orders"])


@router.post("/accounts/{account_id}/service-orders", response_model=list[ServiceOrderOut],
             status_code=status.HTTP_201_CREATED)
async def open_order(
    account_id: int, body: ServiceOrderIn, session: DbSession, caller: AccountClerk
) -> list[ServiceOrderOut]:
    """A transfer opens two orders (stop, then start); every other kind opens one."""
    match body:
        case StartIn():
            started = await flows.start_service(
                session, caller=caller, account_id=account_id, premise_id=body.premise_id,
                start_on=body.start_on, service_kinds=body.services)
            orders = [started.order]
        case StopIn():
            orders = [await flows.request_stop(session, caller=caller, account_id=account_id,
                                               premise_id=body.premise_id, stop_on=body.stop_on)]
        case TransferIn():
            stop, start = await flows.transfer_service(
                session, caller=caller, account_id=account_id,
                from_premise_id=body.from_premise_id, to_premise_id=body.to_premise_id,
                move_on=body.move_on)
            orders = [stop, start.order]
        case MeterRereadIn():
            orders = [await service.request_meter_reread(
                session, caller=caller, account_id=account_id, premise_id=body.premise_id,
                reason=body.reason)]
        case LeakAdjustmentIn():
            orders = [await service.request_leak_adjustment(
                session, caller=caller, account_id=account_id, bill_id=body.bill_id,
                repaired_on=body.repaired_on)]
    return [order_out(o) for o in orders]


@router.post("/service-orders/{order_id}/complete", response_model=ServiceOrderOut)
async def complete(
    order_id: int, body: CompleteIn, session: DbSession, runtime: RuntimeDep,
    caller: AccountClerk,
) -> ServiceOrderOut:
    """Field work done: start/stop on a date, re-read found misread or not, leak credit."""
    order = await get_order(session, order_id=order_id)
    if order.kind == "start":
        order = await flows.complete_start(session, caller=caller, order_id=order_id,
                                           started_on=body.on)
    elif order.kind == "stop":
        order, _ = await flows.complete_stop(session, caller=caller, order_id=order_id,
                                             stopped_on=body.on)
    elif order.kind == "meter_reread":
        if body.misread is None:
            raise Invalid("say whether the meter was misread")
        order, _ = await service.complete_meter_reread(session, caller=caller,
                                                       order_id=order_id, misread=body.misread)
    elif order.kind == "leak_adjustment":
        order, _ = await flows.complete_leak_adjustment(
            session, caller=caller, order_id=order_id,
            limits=AdjustmentLimits.from_settings(runtime.settings))
    else:
        raise Invalid(f"a {order.kind} order is completed through its parts")
    return order_out(order)
