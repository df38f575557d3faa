"""/sandbox/phone: a customer's phone in the browser, for trying Stormdesk without Twilio.

Pick a demo customer's number, text the utility, see the replies as the phone would. The
message goes through the same intake, handling and delivery as a real SMS (only the
webhook signature is skipped, since no provider signs it) and replies go through the
sandbox sender: stored and marked sent, nothing leaves the machine. Served only in the
embedded default (no Twilio account, not production): it lets anyone speak as any number.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field
from sqlalchemy import and_, or_, select

from channels.twilio_sms.options import TwilioSmsOptions
from core.conversations import direct, flows
from core.conversations.inline import InlineAnswers
from core.conversations.models import Message
from core.conversations.schemas import InboundMessage
from core.customers.models import Contact, Customer
from core.errors import NotFound
from core.http import RuntimeDep
from core.phones import to_e164

router = APIRouter(prefix="/sandbox/phone", tags=["sandbox"], include_in_schema=False)
PAGE = Path(__file__).with_name("static") / "phone.html"


def _require_sandbox(request: Request) -> None:
    runtime = request.app.state.runtime
    if not runtime.extras.get("sandbox_phone") or runtime.settings.env == "production":
        raise NotFound("the sandbox phone is only served in the embedded default")


class TextIn(BaseModel):
    number: str = Field(description="the customer's phone, any common format")
    text: str = Field(min_length=1, max_length=1600)


class PhoneMessage(BaseModel):
    id: int
    direction: str
    body: str
    media: list[str]
    status: str
    at: str


class Thread(BaseModel):
    number: str
    utility: str
    messages: list[PhoneMessage]


@router.get("", response_class=HTMLResponse)
async def phone_page(request: Request) -> HTMLResponse:
    _require_sandbox(request)
    return HTMLResponse(PAGE.read_text(encoding="utf-8"))


@router.get("/customers")
async def demo_customers(request: Request, runtime: RuntimeDep,
                         limit: int = Query(default=25, le=200)) -> list[dict[str, str]]:
    """Numbers on file, so the person trying it can be someone the utility knows."""
    _require_sandbox(request)
    async with runtime.sessions() as session:
        rows = (await session.execute(
            select(Contact.value, Customer.first_name, Customer.last_name,
                   Customer.business_name, Customer.kind)
            .join(Customer, Customer.id == Contact.customer_id)
            .where(Contact.kind == "phone").order_by(Contact.id).limit(limit))).all()
    return [{"number": r.value,
             "name": (r.business_name if r.kind == "business" and r.business_name
                      else " ".join(p for p in (r.first_name, r.last_name) if p)) or "Customer"}
            for r in rows]


@router.post("/messages")
async def send_text(body: TextIn, request: Request, runtime: RuntimeDep) -> Thread:
    """Text the utility from `number`; answers with the thread once the inline reply is in."""
    _require_sandbox(request)
    options: TwilioSmsOptions = runtime.extras.get("twilio_sms_options") or TwilioSmsOptions()
    number = to_e164(body.number, options.region)
    inbound = InboundMessage(channel="sms", external_id=f"SBIN{secrets.token_hex(15)}",
                             sender=number, recipient=runtime.settings.utility_phone,
                             text=body.text)
    answers: InlineAnswers | None = runtime.extras.get(flows.INLINE_ANSWERS)
    result = await flows.intake(runtime, inbound,
                                expect_inline=answers.expect if answers else None,
                                handle_here=direct.handle_here(runtime))
    if answers is not None and result.created:
        try:
            await answers.collect(result.message_id, budget_s=options.inline_budget_s,
                                  deliver_as="sent")
        finally:
            answers.forget(result.message_id)
    return await _thread(runtime, number, after=0)


@router.get("/messages")
async def read_thread(request: Request, runtime: RuntimeDep, number: str,
                      after: int = 0) -> Thread:
    """The phone's view: what it sent and what reached it (suppressed replies never did)."""
    _require_sandbox(request)
    options: TwilioSmsOptions = runtime.extras.get("twilio_sms_options") or TwilioSmsOptions()
    return await _thread(runtime, to_e164(number, options.region), after=after)


async def _thread(runtime: RuntimeDep, number: str, *, after: int) -> Thread:
    reached = ("sent", "delivered", "read", "queued", "sending")
    async with runtime.sessions() as session:
        rows = await session.scalars(
            select(Message).where(
                Message.channel == "sms", Message.id > after,
                or_(and_(Message.direction == "inbound", Message.sender == number),
                    and_(Message.direction == "outbound", Message.recipient == number,
                         Message.status.in_(reached))))
            .order_by(Message.id).limit(500))
        messages = [PhoneMessage(id=m.id, direction=m.direction, body=m.body,
                                 media=[x["url"] for x in m.media or ()], status=m.status,
                                 at=m.created_at.isoformat()) for m in rows]
    return Thread(number=number, utility=runtime.settings.utility_name, messages=messages)
