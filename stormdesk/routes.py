"""Every HTTP router the app serves. Each domain adds its router here, nowhere else."""

from __future__ import annotations

from fastapi import APIRouter

from agent_console.web import console_routers
from channels.email import views as email_views
from channels.twilio_sms import sandbox as sms_sandbox
from channels.twilio_sms import views as sms_views
from channels.twilio_voice import views as voice_views
from channels.webchat import views as webchat_views
from core.accountcore_api import account_core_routers
from core.outages import views as outage_views
from core.payments import views as payment_views
from core.storm import views as storm_views
from stormdesk import notice_callbacks, ops


def routers() -> list[APIRouter]:
    # A request is matched against the routers in this order, each costing a few µs: the
    # webhook Twilio floods in a storm comes first (about 4% of its CPU was the matching
    # when it came after the account core's routers).
    found: list[APIRouter] = [sms_views.router, ops.router]
    found += account_core_routers()
    found.append(outage_views.router)
    found.append(payment_views.router)
    found.append(sms_sandbox.router)
    found.append(voice_views.router)
    found.append(email_views.router)
    found += [webchat_views.router, webchat_views.sandbox_router]
    found += console_routers()
    found += [storm_views.router, storm_views.pages, notice_callbacks.router]
    return found
