"""Every HTTP router the app serves. Each domain adds its router here, nowhere else."""

from __future__ import annotations

from fastapi import APIRouter

from channels.twilio_sms import sandbox as sms_sandbox
from channels.twilio_sms import views as sms_views
from core.accountcore_api import account_core_routers
from stormdesk import ops


def routers() -> list[APIRouter]:
    found: list[APIRouter] = [ops.router]
    found += account_core_routers()
    found += [sms_views.router, sms_sandbox.router]
    return found
