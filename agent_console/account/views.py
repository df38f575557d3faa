"""REST for the account panel and its actions (agents), and approvals (supervisors)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from agent_console.account import actions, panel
from agent_console.auth.access import audited, require_account, require_holder
from agent_console.auth.guard import CurrentAgent, CurrentSupervisor
from agent_console.schemas import (
    AccountNoteIn,
    AdjustmentIn,
    ArrangementIn,
    DecisionIn,
    DepositIn,
    LinkAccountIn,
    ServiceOrderIn,
    WaiveFeeIn,
)
from core.agents.policy import AssignmentState
from core.http import RuntimeDep

router = APIRouter(prefix="/api/v1/agent", tags=["agent console: accounts"])
approvals = APIRouter(prefix="/api/v1/supervisor/approvals", tags=["supervisor"])


@router.get("/conversations/{conversation_id}/accounts")
async def conversation_accounts(conversation_id: int, caller: CurrentAgent,
                                runtime: RuntimeDep) -> dict[str, Any]:
    """The customer's accounts (balance, past due, collections) for the conversation held."""
    async with audited(runtime, caller), runtime.sessions() as session:
        await require_holder(session, caller, conversation_id=conversation_id,
                             action="read_accounts", supervisor_ok=True,
                             states=(AssignmentState.ACTIVE, AssignmentState.WRAP_UP))
        return await panel.accounts_for_conversation(session, conversation_id=conversation_id)


@router.post("/conversations/{conversation_id}/link-account")
async def link_account(conversation_id: int, body: LinkAccountIn, caller: CurrentAgent,
                       runtime: RuntimeDep) -> dict[str, Any]:
    return await actions.link_account(runtime, caller, conversation_id=conversation_id,
                                      account_number=body.account_number)


@router.get("/accounts/{account_id}")
async def account(account_id: int, caller: CurrentAgent, runtime: RuntimeDep) -> dict[str, Any]:
    """Balance and aging, bills, payments, arrangements, deposits, open orders, outages."""
    async with audited(runtime, caller), runtime.sessions() as session:
        await require_account(session, caller, account_id=account_id)
        return await panel.account_panel(session, account_id=account_id)


@router.post("/accounts/{account_id}/adjustments")
async def adjustment(account_id: int, body: AdjustmentIn, caller: CurrentAgent,
                     runtime: RuntimeDep) -> dict[str, Any]:
    return await actions.post_adjustment(runtime, caller, account_id=account_id,
                                         amount=body.amount, reason=body.reason)


@router.get("/accounts/{account_id}/arrangement-offer")
async def arrangement_offer(account_id: int, caller: CurrentAgent,
                            runtime: RuntimeDep) -> dict[str, Any]:
    return await actions.offer_arrangement(runtime, caller, account_id=account_id)


@router.post("/accounts/{account_id}/arrangements")
async def arrangement(account_id: int, body: ArrangementIn, caller: CurrentAgent,
                      runtime: RuntimeDep) -> dict[str, Any]:
    return await actions.make_arrangement(runtime, caller, account_id=account_id,
                                          installments=body.installments)


@router.post("/accounts/{account_id}/fee-waivers")
async def fee_waiver(account_id: int, body: WaiveFeeIn, caller: CurrentAgent,
                     runtime: RuntimeDep) -> dict[str, Any]:
    return await actions.waive_fee(runtime, caller, account_id=account_id,
                                   ledger_entry_id=body.ledger_entry_id, reason=body.reason)


@router.post("/accounts/{account_id}/deposits")
async def deposit(account_id: int, body: DepositIn, caller: CurrentAgent,
                  runtime: RuntimeDep) -> dict[str, Any]:
    return await actions.set_deposit(runtime, caller, account_id=account_id, amount=body.amount,
                                     reason=body.reason)


@router.post("/accounts/{account_id}/service-orders")
async def service_order(account_id: int, body: ServiceOrderIn, caller: CurrentAgent,
                        runtime: RuntimeDep) -> dict[str, Any]:
    return await actions.create_service_order(runtime, caller, account_id=account_id,
                                              kind=body.kind, premise_id=body.premise_id,
                                              notes=body.notes)


@router.post("/accounts/{account_id}/notes")
async def note(account_id: int, body: AccountNoteIn, caller: CurrentAgent,
               runtime: RuntimeDep, conversation_id: int | None = None) -> dict[str, Any]:
    return await actions.add_account_note(runtime, caller, account_id=account_id,
                                          body=body.body, conversation_id=conversation_id)


@approvals.get("")
async def pending(caller: CurrentSupervisor, runtime: RuntimeDep) -> list[dict[str, Any]]:
    """Adjustments above an agent's limit, waiting for someone whose limit covers them."""
    return await actions.pending_approvals(runtime)


@approvals.post("/{request_id}/approve")
async def approve(request_id: int, body: DecisionIn, caller: CurrentSupervisor,
                  runtime: RuntimeDep) -> dict[str, Any]:
    return await actions.approve(runtime, caller, request_id=request_id,
                                 note=body.reason or None)


@approvals.post("/{request_id}/reject")
async def reject(request_id: int, body: DecisionIn, caller: CurrentSupervisor,
                 runtime: RuntimeDep) -> dict[str, Any]:
    return await actions.reject(runtime, caller, request_id=request_id, reason=body.reason)
