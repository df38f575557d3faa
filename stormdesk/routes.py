"""Every HTTP router the app serves. Each domain adds its router here, nowhere else."""

from __future__ import annotations

from fastapi import APIRouter

from core.accountcore_api import account_core_routers
from stormdesk import ops


def routers() -> list[APIRouter]:
    found: list[APIRouter] = [ops.router]
    found += account_core_routers()
    return found
