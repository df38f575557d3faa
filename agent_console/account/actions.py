"""Account actions from the console, through the core's services and policies (which audit
them): adjustments under approval limits, arrangements, fee waivers, deposits, service
orders, notes. The console adds the check that the account belongs to a conversation the
agent holds, and tells supervisors when an approval is waiting."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from agent_console import conversations
from agent_console.auth.access import acting, require_account, require_holder
from agent_console.live.log import SUPERVISORS, ConsoleTx, agent_audience
from core.accounts import repository as accounts
from core.accounts.models import Account
from core.adjustments.models import AdjustmentRequest
from core.adjustments.policy import AdjustmentLimits
from core.adjustments.service import approve_adjustment, reject_adjustment, request_adjustment
from core.agents import repository as agents
from core.agents.models import AccountNote
from core.agents.policy import AssignmentState
from core.arrangements.service import arrangement_offer, create_arrangement
from core.audit.service import record_audit
from core.auth.service import Caller
from core.billing.models import LedgerEntry
from core.clock import utcnow
from core.conversations.models import Conversation
from core.deposits.service import require_deposit
from core.errors import Conflict, Invalid, NotFound
from core.money import from_cents
from core.runtime import Runtime
from core.service_orders.service import open_order, request_meter_reread

ORDER_KINDS_FROM_CONSOLE = ("meter_reread", "start", "stop", "transfer")


def limits(runtime: Runtime) -> AdjustmentLimits:
    return AdjustmentLimits.from_settings(runtime.settings)


def request_card(request: AdjustmentRequest) -> dict[str, Any]:
    return {
        "request_id": request.id,
        "account_id": request.account_id,
        "amount": str(from_cents(request.amount_cents)),
        "reason": request.reason,
        "code": request.code,
        "status": request.status,
        "requested_by": request.requested_by,
        "requested_role": request.requested_role,
        "decided_by": request.decided_by,
        "created_at": request.created_at.isoformat() if request.created_at else None,
        "ledger_entry_id": request.ledger_entry_id,
    }


def _announce(tx: ConsoleTx, caller: Caller, *, account_id: int, action: str,
              result: dict[str, Any]) -> None:
    audiences = [SUPERVISORS]
    if caller.agent_id is not None:
        audiences.insert(0, agent_audience(caller.agent_id))
    tx.emit(audiences, "account.action", {"account_id": account_id, "action": action,
                                          "by": caller.name, "result": result})


async def _adjust(runtime: Runtime, tx: ConsoleTx, caller: Caller, *, account_id: int,
                  amount: Decimal, reason: str, code: str | None, action: str) -> dict[str, Any]:
    outcome = await request_adjustment(tx.session, caller=caller, account_id=account_id,
                                       amount=amount, reason=reason, limits=limits(runtime),
                                       code=code)
    card = request_card(outcome.request)
    result = {"status": "posted" if outcome.posted else "pending_approval", "request": card}
    if not outcome.posted:
        tx.emit(SUPERVISORS, "approval.requested", card)
    _announce(tx, caller, account_id=account_id, action=action, result=result)
    return result


async def post_adjustment(runtime: Runtime, caller: Caller, *, account_id: int, amount: Decimal,
                          reason: str) -> dict[str, Any]:
    """Within the agent's limit it posts; above it, it waits for a supervisor's approval."""
    async with acting(runtime, caller) as tx:
        await require_account(tx.session, caller, account_id=account_id,
                              action="post_adjustment")
        return await _adjust(runtime, tx, caller, account_id=account_id, amount=amount,
                             reason=reason, code=None, action="adjustment")


async def waive_fee(runtime: Runtime, caller: Caller, *, account_id: int, ledger_entry_id: int,
                    reason: str) -> dict[str, Any]:
    """A credit for exactly one fee on this account, once; approval limits apply as usual."""
    async with acting(runtime, caller) as tx:
        await require_account(tx.session, caller, account_id=account_id, action="waive_fee")
        fee = await tx.session.get(LedgerEntry, ledger_entry_id)
        if fee is None or fee.account_id != account_id:
            raise NotFound("no such fee on this account", ledger_entry_id=ledger_entry_id)
        if fee.kind != "fee" or fee.amount_cents <= 0:
            raise Invalid("only a fee can be waived", kind=fee.kind)
        code = f"waive:{fee.id}"
        earlier = await tx.session.scalar(select(AdjustmentRequest.id).where(
            AdjustmentRequest.account_id == account_id, AdjustmentRequest.code == code,
            AdjustmentRequest.status.in_(["pending", "approved"])))
        if earlier is not None:
            raise Conflict("this fee is already waived or waiting for approval",
                           request_id=earlier)
        return await _adjust(runtime, tx, caller, account_id=account_id,
                             amount=-from_cents(fee.amount_cents),
                             reason=f"fee waived ({fee.memo or fee.code or 'fee'}): {reason}",
                             code=code, action="fee_waiver")


async def offer_arrangement(runtime: Runtime, caller: Caller, *,
                            account_id: int) -> dict[str, Any]:
    """What the policy allows this account today (the agent offers exactly that)."""
    async with acting(runtime, caller) as tx:
        await require_account(tx.session, caller, account_id=account_id,
                              action="read_arrangement_offer")
        decision = await arrangement_offer(tx.session, account_id=account_id)
        shown: dict[str, Any] = {"eligible": decision.eligible}
        for key, value in asdict(decision).items():
            if key.endswith("_cents"):
                shown[key.removesuffix("_cents")] = str(from_cents(value))
            elif isinstance(value, date | Decimal):
                shown[key] = str(value)
            else:
                shown[key] = value
        return shown


async def make_arrangement(runtime: Runtime, caller: Caller, *, account_id: int,
                           installments: int) -> dict[str, Any]:
    async with acting(runtime, caller) as tx:
        await require_account(tx.session, caller, account_id=account_id,
                              action="create_arrangement")
        arrangement, rows = await create_arrangement(tx.session, caller=caller,
                                                     account_id=account_id,
                                                     installments=installments)
        result = {"arrangement_id": arrangement.id, "status": arrangement.status,
                  "total": str(from_cents(arrangement.total_cents)),
                  "down_payment": str(from_cents(arrangement.down_payment_cents)),
                  "installments": [{"seq": r.seq, "due_on": r.due_on.isoformat(),
                                    "amount": str(from_cents(r.amount_cents))} for r in rows]}
        _announce(tx, caller, account_id=account_id, action="arrangement", result=result)
        return result


async def set_deposit(runtime: Runtime, caller: Caller, *, account_id: int,
                      amount: Decimal | None, reason: str) -> dict[str, Any]:
    async with acting(runtime, caller) as tx:
        await require_account(tx.session, caller, account_id=account_id, action="set_deposit")
        deposit = await require_deposit(tx.session, caller=caller, account_id=account_id,
                                        amount=amount, reason=reason)
        result: dict[str, Any] = {"required": False}
        if deposit is not None:
            result = {"required": True, "deposit_id": deposit.id,
                      "amount": str(from_cents(deposit.required_cents)),
                      "due_on": deposit.due_on.isoformat(), "reason": deposit.reason}
        _announce(tx, caller, account_id=account_id, action="deposit", result=result)
        return result


async def create_service_order(runtime: Runtime, caller: Caller, *, account_id: int, kind: str,
                               premise_id: int | None, notes: str | None) -> dict[str, Any]:
    if kind not in ORDER_KINDS_FROM_CONSOLE:
        raise Invalid(f"the console opens {', '.join(ORDER_KINDS_FROM_CONSOLE)} orders")
    async with acting(runtime, caller) as tx:
        await require_account(tx.session, caller, account_id=account_id,
                              action="create_service_order")
        if kind == "meter_reread":
            if premise_id is None:
                raise Invalid("a meter re-read needs the premise")
            order = await request_meter_reread(tx.session, caller=caller, account_id=account_id,
                                               premise_id=premise_id,
                                               reason=notes or "customer disputes the reading")
        else:
            order = await open_order(tx.session, caller=caller, kind=kind, account_id=account_id,
                                     premise_id=premise_id, details={"notes": notes or ""})
        result = {"order_id": order.id, "kind": order.kind, "status": order.status,
                  "fee": str(from_cents(order.fee_cents)), "premise_id": order.premise_id}
        await record_audit(tx.session, caller=caller, action="service_order.create",
                           entity="service_order", entity_id=order.id, account_id=account_id,
                           after=result, reason=notes)
        _announce(tx, caller, account_id=account_id, action="service_order", result=result)
        return result


async def add_account_note(runtime: Runtime, caller: Caller, *, account_id: int, body: str,
                           conversation_id: int | None = None) -> dict[str, Any]:
    body = body.strip()
    if not body:
        raise Invalid("a note needs text")
    async with acting(runtime, caller) as tx:
        await require_account(tx.session, caller, account_id=account_id, action="add_note")
        # A supervisor passes require_account for any id: a missing row is a 404, not a 500
        # from the foreign key.
        if await tx.session.get(Account, account_id) is None:
            raise NotFound("no such account", account_id=account_id)
        if conversation_id is not None and await tx.session.get(
                Conversation, conversation_id) is None:
            raise NotFound("no such conversation", conversation_id=conversation_id)
        note = AccountNote(account_id=account_id, agent_id=caller.agent_id or 0,
                           conversation_id=conversation_id, body=body[:2000], created_at=utcnow())
        tx.session.add(note)
        await tx.session.flush()
        await record_audit(tx.session, caller=caller, action="account.note", entity="account_note",
                           entity_id=note.id, account_id=account_id, after={"body": note.body},
                           reason=note.body[:200])
        result = {"note_id": note.id, "body": note.body}
        _announce(tx, caller, account_id=account_id, action="note", result=result)
        return result


async def link_account(runtime: Runtime, caller: Caller, *, conversation_id: int,
                       account_number: str) -> dict[str, Any]:
    """The agent identified the customer (by account number and what they confirmed)."""
    async with acting(runtime, caller) as tx:
        await require_holder(tx.session, caller, conversation_id=conversation_id,
                             action="link_account",
                             states=(AssignmentState.ACTIVE, AssignmentState.WRAP_UP))
        account = await accounts.by_number(tx.session, number=account_number)
        if account is None:
            raise NotFound("no account with that number")
        before = await conversations.get_conversation(tx.session, conversation_id)
        previous = before.customer_id
        await conversations.link_customer(tx, conversation_id=conversation_id,
                                          customer_id=account.customer_id)
        await record_audit(tx.session, caller=caller, action="conversation.link_account",
                           entity="conversation", entity_id=conversation_id,
                           account_id=account.id, before={"customer_id": previous},
                           after={"customer_id": account.customer_id})
        return {"conversation_id": conversation_id, "customer_id": account.customer_id,
                "account_id": account.id}


async def pending_approvals(runtime: Runtime) -> list[dict[str, Any]]:
    async with runtime.sessions() as session:
        rows = await session.scalars(select(AdjustmentRequest).where(
            AdjustmentRequest.status == "pending").order_by(AdjustmentRequest.id))
        return [request_card(r) for r in rows]


async def _decided(tx: ConsoleTx, request: AdjustmentRequest) -> None:
    card = request_card(request)
    audiences = [SUPERVISORS]
    if request.requested_by.startswith("agent:"):
        requester = await agents.by_username(tx.session,
                                             username=request.requested_by.removeprefix("agent:"))
        if requester is not None:
            audiences.insert(0, agent_audience(requester.id))
    tx.emit(audiences, "approval.decided", card)


async def approve(runtime: Runtime, caller: Caller, *, request_id: int,
                  note: str | None = None) -> dict[str, Any]:
    """The core decides whether this approver may (limits, nobody approves their own)."""
    async with acting(runtime, caller) as tx:
        outcome = await approve_adjustment(tx.session, caller=caller, request_id=request_id,
                                           limits=limits(runtime), note=note)
        await _decided(tx, outcome.request)
        return request_card(outcome.request)


async def reject(runtime: Runtime, caller: Caller, *, request_id: int,
                 reason: str) -> dict[str, Any]:
    async with acting(runtime, caller) as tx:
        request = await reject_adjustment(tx.session, caller=caller, request_id=request_id,
                                          limits=limits(runtime), reason=reason or "rejected")
        await _decided(tx, request)
        return request_card(request)
