"""Twilio's messaging webhooks: inbound SMS/MMS/WhatsApp and delivery status callbacks.

Verify (signature dependency) → store once → answer: the reply inline as TwiML if the bot
finishes within the budget, else empty TwiML and the REST sender takes over (STYLE 4).
"""

from __future__ import annotations

import logging
import re

from fastapi import APIRouter, Query, Response
from starlette.background import BackgroundTask

from channels.twilio_sms.options import STATUS_PATH, TwilioSmsOptions
from channels.twilio_sms.parser import TwilioMessageParser
from channels.twilio_sms.security import VerifiedTwilioForm
from channels.twilio_sms.twiml import messaging_twiml
from core.conversations import compliance, direct, flows, service
from core.conversations.events import DeliveryStatusChanged
from core.conversations.inline import InlineAnswers
from core.db import unit_of_work
from core.http import RuntimeDep

log = logging.getLogger(__name__)

router = APIRouter(prefix="/channels/twilio", tags=["twilio"])

_SID = re.compile(r"[A-Za-z0-9]{2,64}")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,16}")


def _options(runtime: RuntimeDep) -> TwilioSmsOptions:
    return runtime.extras.get("twilio_sms_options") or TwilioSmsOptions()


@router.post("/sms", response_class=Response, summary="Inbound SMS, MMS or WhatsApp message")
async def inbound_message(form: VerifiedTwilioForm, runtime: RuntimeDep) -> Response:
    options = _options(runtime)
    inbound = TwilioMessageParser(region=options.region).parse(
        {k: v for k, v in form.items() if isinstance(v, str)})
    answers: InlineAnswers | None = runtime.extras.get(flows.INLINE_ANSWERS)
    result = await flows.intake(runtime, inbound,
                                expect_inline=answers.expect if answers else None,
                                handle_here=direct.handle_here(runtime))
    if answers is None:
        return messaging_twiml([])
    if not result.created:
        # A repeat delivery (a Twilio retry, a duplicate): stored and handled once already; it
        # carries only replies that the first request was handed and never answered with.
        replies = await answers.collect_repeat(result.message_id,
                                               budget_s=options.inline_budget_s)
    else:
        try:
            replies = await answers.collect(result.message_id,
                                            budget_s=options.inline_budget_s,
                                            deliver_as="queued")
        finally:
            answers.forget(result.message_id)
    status_url = runtime.settings.public_base_url.rstrip("/") + STATUS_PATH
    response = messaging_twiml(replies, status_url=status_url)
    if replies:
        # Noted once the answer is written (Starlette runs it after the body is sent): a
        # repeat delivery then knows these replies left, and one after a death carries them.
        response.background = BackgroundTask(answers.answered, result.message_id)
    return response


@router.post("/sms/status", response_class=Response, summary="Message delivery status callback")
async def status_callback(form: VerifiedTwilioForm, runtime: RuntimeDep,
                          m: int | None = Query(default=None,
                                                description="our message id")) -> Response:
    """Applies the status only if it moves forward: Twilio sends callbacks more than once
    and out of order, and a late "sent" must never overwrite "delivered"."""
    sid = form.get("MessageSid") or form.get("SmsSid")
    status = str(form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
    error_code = str(form.get("ErrorCode") or "") or None
    # Unknown statuses are recorded, so the fields must fit their columns (status 16,
    # external_id 64, error_code 16) and hold no NUL: PostgreSQL refuses those with a 500.
    if sid is not None and not _SID.fullmatch(str(sid)):
        sid = None
    if error_code is not None and not _TOKEN.fullmatch(error_code):
        error_code = None
    if not _TOKEN.fullmatch(status) or (m is None and not sid):
        return messaging_twiml([])
    channel = "whatsapp" if str(form.get("To", "")).startswith("whatsapp:") else "sms"
    async with unit_of_work(runtime.sessions) as session:
        changed = await service.record_delivery_status(
            session, status=status, message_id=m, channel=channel,
            external_id=str(sid) if sid else None, error_code=error_code)
        if changed is not None and error_code == "21610":
            # Twilio blocked it because the number opted out with Twilio itself.
            await compliance.record_consent(session, address=changed.recipient,
                                            opted_out=True, keyword="PROVIDER")
        event = DeliveryStatusChanged(
            conversation_id=changed.conversation_id, message_id=changed.id,
            status=changed.status, error_code=error_code) if changed else None
    if event is not None:
        await runtime.bus.publish(event.topic, event.to_payload())
    # Twilio reads the answer to a <Message action> as TwiML: an empty one does nothing.
    return messaging_twiml([])
