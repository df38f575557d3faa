"""Twilio's status callbacks for notices (`?m=` is a notice id here, not a message id): glue
between the SMS channel's signature check and the notice outbox, so it lives at the root."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response

from channels.twilio_sms.security import VerifiedTwilioForm
from core.clock import utcnow
from core.conversations import compliance
from core.db import unit_of_work
from core.http import RuntimeDep
from core.notifications import repository
from core.notifications.models import Notice, NoticeStatus
from integrations.notices import NOTICE_STATUS_PATH

router = APIRouter(tags=["notices"])

ACCEPTED = frozenset({"accepted", "queued", "sending", "sent"})
ARRIVED = frozenset({"delivered", "read"})
LOST = frozenset({"undelivered", "failed"})
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@router.post(NOTICE_STATUS_PATH, response_class=Response, include_in_schema=False)
async def notice_status(form: VerifiedTwilioForm, runtime: RuntimeDep,
                        m: int | None = Query(default=None)) -> Response:
    """Only ever forward: callbacks arrive twice and out of order."""
    status = str(form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
    sid = str(form.get("MessageSid") or form.get("SmsSid") or "") or None
    error = str(form.get("ErrorCode") or "") or None
    now = utcnow()
    if m is not None:
        async with unit_of_work(runtime.sessions) as session:
            if status in ACCEPTED:
                await repository.record_accepted(session, notice_id=m, provider_id=sid, now=now)
            elif status in ARRIVED:
                await repository.record_accepted(session, notice_id=m, provider_id=sid, now=now)
                await repository.record_delivery(session, notice_id=m,
                                                 status=NoticeStatus.DELIVERED, now=now)
            elif status in LOST:
                opted_out = error == "21610"
                await repository.record_delivery(
                    session, notice_id=m, now=now, error_code=error,
                    status=NoticeStatus.SKIPPED_OPTED_OUT if opted_out else NoticeStatus.FAILED)
                notice = await session.get(Notice, m)
                if opted_out and notice is not None:
                    await compliance.record_consent(session, address=notice.address,
                                                    opted_out=True, keyword="PROVIDER")
    return Response(EMPTY_TWIML, media_type="application/xml")
