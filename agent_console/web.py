"""Every router the console serves, for the composition root to include."""

from __future__ import annotations

from fastapi import APIRouter

from agent_console import views
from agent_console.account import views as account_views
from agent_console.auth import views as auth_views
from agent_console.live import ws
from agent_console.supervisor import views as supervisor_views
from agent_console.ui import views as ui_views


def console_routers() -> list[APIRouter]:
    return [auth_views.router, views.router, account_views.router, account_views.approvals,
            supervisor_views.router, ws.router, ui_views.router]
