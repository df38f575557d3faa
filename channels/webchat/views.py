"""Web chat over HTTP: the session endpoint, the websocket, the widget script, and the demo
utility page that embeds it (`/sandbox/site`, embedded default only)."""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel
from sqlalchemy import select

from channels.webchat.connection import serve
from channels.webchat.service import channel_of
from core.accounts.models import Account
from core.demo.personas import DEMO_PERSONAS
from core.errors import NotFound
from core.http import RuntimeDep

STATIC = Path(__file__).with_name("static")

router = APIRouter(prefix="/channels/webchat", tags=["web chat"])
sandbox_router = APIRouter(prefix="/sandbox/site", tags=["sandbox"], include_in_schema=False)


class SessionOut(BaseModel):
    token: str
    session_id: str
    expires_at: int


@router.post("/session", summary="Start a web chat session", response_model=SessionOut)
async def new_session(runtime: RuntimeDep) -> SessionOut:
    """A fresh session token. The widget may also connect without one and get it in `welcome`;
    a page can call this first to hold the token before the socket opens."""
    token, issued = channel_of(runtime).signer.issue()
    return SessionOut(token=token, session_id=issued.session_id, expires_at=issued.expires_at)


@router.websocket("/ws")
async def chat_socket(websocket: WebSocket) -> None:
    await serve(websocket, channel_of(websocket.app.state.runtime))


@router.get("/widget.js", response_class=Response, summary="The embeddable chat widget")
async def widget_script() -> Response:
    """One script tag embeds the chat: no framework, no CDN, no outside fonts."""
    return Response((STATIC / "widget.js").read_bytes(), media_type="text/javascript",
                    headers={"Cache-Control": "public, max-age=300",
                             "X-Content-Type-Options": "nosniff"})


def _require_sandbox(request: Request) -> None:
    runtime = request.app.state.runtime
    if not runtime.extras.get("sandbox_phone") or runtime.settings.env == "production":
        raise NotFound("the demo site is only served in the embedded default")


@sandbox_router.get("", response_class=HTMLResponse)
async def demo_site(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    """A demo utility's home page with the chat widget on it, and the demo customers' account
    numbers to try (web chat has no caller ID: the bot asks who you are)."""
    _require_sandbox(request)
    numbers = [p.account_number for p in DEMO_PERSONAS]
    async with runtime.sessions() as session:
        known = set(await session.scalars(select(Account.number).where(
            Account.number.in_(numbers))))
    rows = "".join(
        f"<tr><td>{escape(p.name)}</td><td><code>{p.account_number}</code></td>"
        f"<td>{p.zip}</td><td>{escape(p.story)}</td></tr>" for p in DEMO_PERSONAS if p.account_number in known)
    hint = (f"<table><caption>Demo customers</caption><thead><tr><th scope='col'>Name</th>"
            f"<th scope='col'>Account</th><th scope='col'>ZIP</th><th scope='col'>Story</th>"
            f"</tr></thead><tbody>{rows}</tbody></table>" if rows else
            "<p>No demo customers yet: run <code>stormdesk seed</code>.</p>")
    page = (STATIC / "site.html").read_text(encoding="utf-8")
    page = page.replace("{{utility}}", escape(runtime.settings.utility_name))
    page = page.replace("{{utility_phone}}", escape(runtime.settings.utility_phone))
    return HTMLResponse(page.replace("{{personas}}", hint))
