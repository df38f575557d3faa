"""Twilio status callbacks for notices: signed, `?m=` is a notice id, forward only (a late
"sent" never undoes "delivered"), and a callback settles a notice its worker never recorded."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select, update
from twilio.request_validator import RequestValidator

from core.config import Settings
from core.consent.models import OptOut
from core.db import unit_of_work
from core.notifications.flows import plan_notices
from core.notifications.models import Notice, NoticeStatus
from core.notifications.policy import NoticePolicy
from core.outages import service as outages
from core.outages.enums import Device, DeviceKind
from core.runtime import Runtime
from core.storm.synthetic import build_synthetic_utility
from integrations.notices import NOTICE_STATUS_PATH
from stormdesk.app import create_app

TOKEN = "notice-callback-token"
BASE = "https://stormdesk.example.org"


@pytest.fixture
async def app(db_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, Runtime]]:
    application = create_app(Settings(database_url=db_url, env="test", log_json=False,
                                      twilio_account_sid="AC" + "1" * 32,
                                      twilio_auth_token=TOKEN, public_base_url=BASE))
    transport = httpx.ASGITransport(app=application)
    async with application.router.lifespan_context(application), \
            httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client, application.state.runtime


async def callback(client: httpx.AsyncClient, notice_id: int, status: str,
                   error: str | None = None) -> httpx.Response:
    form = {"MessageSid": "SM" + "a" * 32, "MessageStatus": status, "To": "+17000000001",
            "From": "24601", "AccountSid": "AC" + "1" * 32}
    if error:
        form["ErrorCode"] = error
    path = f"{NOTICE_STATUS_PATH}?m={notice_id}"
    signature = RequestValidator(TOKEN).compute_signature(BASE + path, form)
    return await client.post(path, data=form, headers={"X-Twilio-Signature": signature})


async def test_status_callbacks_move_notices_forward_only(app: tuple) -> None:
    client, runtime = app
    utility = await build_synthetic_utility(runtime.engine, customers=20, per_transformer=4,
                                            per_feeder=20)
    outages.reset_engines()
    async with unit_of_work(runtime.sessions) as session:
        change = await outages.confirm_outage(
            session, device=Device(DeviceKind.FEEDER, utility.feeder_ids[0]))
        await plan_notices(session, change.events, policy=NoticePolicy())
        rows = (await session.scalars(select(Notice).where(Notice.channel == "sms")
                                      .order_by(Notice.id))).all()
        first, second = rows[0].id, rows[1].id
        await session.execute(update(Notice).where(Notice.id.in_([first, second]))
                              .values(status=NoticeStatus.SENDING.value))

    async def status_of(notice_id: int) -> str:
        async with runtime.sessions() as session:
            return str(await session.scalar(select(Notice.status).where(Notice.id == notice_id)))

    unsigned = await client.post(f"{NOTICE_STATUS_PATH}?m={first}",
                                 data={"MessageStatus": "delivered"})
    assert unsigned.status_code == 403
    assert (await callback(client, first, "sent")).status_code == 200
    assert await status_of(first) == NoticeStatus.SENT  # the worker died before writing it
    await callback(client, first, "delivered")
    await callback(client, first, "sent")  # late and out of order
    assert await status_of(first) == NoticeStatus.DELIVERED
    await callback(client, second, "undelivered", error="21610")
    assert await status_of(second) == NoticeStatus.SKIPPED_OPTED_OUT
    async with runtime.sessions() as session:
        address = await session.scalar(select(Notice.address).where(Notice.id == second))
        assert await session.scalar(select(OptOut.opted_out).where(OptOut.address == address))
