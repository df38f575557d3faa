"""Commands an agent sends over the websocket, each answered by `ack` or `error` with its `ref`.

The verbs are the same functions REST calls (agent_console/actions.py), so both paths check
role and assignment identically."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from agent_console import actions
from agent_console.auth import tokens
from agent_console.auth.access import audited, require_supervisor
from agent_console.live.hub import Connection, ConsoleHub
from agent_console.storm import storm_switch
from core.auth.service import Caller
from core.errors import DomainError, Invalid, Unauthorized
from core.pii import mask_card_numbers
from core.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Session:
    """One authenticated socket: who, where its events go, and when its token runs out."""

    runtime: Runtime
    caller: Caller
    conn: Connection
    hub: ConsoleHub
    expires_at: int


Command = Callable[[Session, dict[str, Any]], Awaitable[Any]]


def _int(message: dict[str, Any], key: str) -> int:
    value = message.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"{key} must be an integer")
    return value


def _str(message: dict[str, Any], key: str, *, required: bool = True) -> str | None:
    value = message.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise Invalid(f"{key} must be a string")
    return value


def _free(message: dict[str, Any], key: str, *, required: bool = True) -> str | None:
    """Free text (a note, a reason): card numbers masked, as FreeText does for REST bodies."""
    value = _str(message, key, required=required)
    return None if value is None else mask_card_numbers(value)


async def _ping(s: Session, m: dict[str, Any]) -> Any:
    return {"pong": True}


async def _auth(s: Session, m: dict[str, Any]) -> Any:
    """A fresh token before the old one expires keeps the socket open."""
    caller, expires = tokens.verify(_str(m, "token") or "",
                                    secret_key=s.runtime.settings.secret_key.get_secret_value())
    if caller.agent_id != s.caller.agent_id:
        raise Unauthorized("that token is for someone else")
    s.caller, s.expires_at = caller, expires
    return {"token_expires_at": expires}


async def _presence(s: Session, m: dict[str, Any]) -> Any:
    return await actions.set_presence(s.runtime, s.caller, value=_str(m, "presence") or "")


async def _accept(s: Session, m: dict[str, Any]) -> Any:
    return await actions.accept_offer(s.runtime, s.caller, offer_id=_int(m, "offer_id"))


async def _decline(s: Session, m: dict[str, Any]) -> Any:
    return await actions.decline_offer(s.runtime, s.caller, offer_id=_int(m, "offer_id"))


async def _send(s: Session, m: dict[str, Any]) -> Any:
    return await actions.send_message(s.runtime, s.caller,
                                      conversation_id=_int(m, "conversation_id"),
                                      text=_free(m, "text") or "")


async def _typing(s: Session, m: dict[str, Any]) -> Any:
    await actions.typing(s.runtime, s.caller, conversation_id=_int(m, "conversation_id"))
    return None


async def _note(s: Session, m: dict[str, Any]) -> Any:
    return await actions.add_note(s.runtime, s.caller, conversation_id=_int(m, "conversation_id"),
                                  body=_free(m, "body") or "")


async def _transfer(s: Session, m: dict[str, Any]) -> Any:
    to_agent = m.get("to_agent_id")
    if to_agent is not None and (isinstance(to_agent, bool) or not isinstance(to_agent, int)):
        raise Invalid("to_agent_id must be an integer")
    return await actions.transfer(s.runtime, s.caller, conversation_id=_int(m, "conversation_id"),
                                  to_agent_id=to_agent,
                                  to_skill=_str(m, "to_queue", required=False),
                                  note=_free(m, "note", required=False))


async def _wrap_up_start(s: Session, m: dict[str, Any]) -> Any:
    return await actions.start_wrap_up(s.runtime, s.caller,
                                       conversation_id=_int(m, "conversation_id"))


async def _wrap_up_complete(s: Session, m: dict[str, Any]) -> Any:
    return await actions.complete_wrap_up(
        s.runtime, s.caller, conversation_id=_int(m, "conversation_id"),
        disposition=_str(m, "disposition") or "", notes=_free(m, "notes", required=False))


async def _hand_back(s: Session, m: dict[str, Any]) -> Any:
    return await actions.hand_back(s.runtime, s.caller, conversation_id=_int(m, "conversation_id"),
                                   note=_free(m, "note", required=False))


async def _monitor_start(s: Session, m: dict[str, Any]) -> Any:
    conversation_id = _int(m, "conversation_id")
    async with audited(s.runtime, s.caller):
        actions.monitor_allowed(s.caller, conversation_id=conversation_id)
    s.hub.watch(s.conn, conversation_id)
    return await actions.view_conversation(s.runtime, s.caller, conversation_id=conversation_id)


async def _monitor_stop(s: Session, m: dict[str, Any]) -> Any:
    s.hub.unwatch(s.conn, _int(m, "conversation_id"))
    return {}


async def _storm(s: Session, m: dict[str, Any]) -> Any:
    async with audited(s.runtime, s.caller):
        require_supervisor(s.caller, action="storm_switch", entity="system")
    on = m.get("on")
    if not isinstance(on, bool):
        raise Invalid("on must be true or false")
    return await storm_switch(s.runtime).switch(on=on, by=s.caller,
                                                message=_free(m, "message", required=False) or "")


COMMANDS: dict[str, Command] = {
    "ping": _ping,
    "auth": _auth,
    "presence.set": _presence,
    "offer.accept": _accept,
    "offer.decline": _decline,
    "message.send": _send,
    "typing": _typing,
    "note.add": _note,
    "transfer": _transfer,
    "wrap_up.start": _wrap_up_start,
    "wrap_up.complete": _wrap_up_complete,
    "hand_back": _hand_back,
    "monitor.start": _monitor_start,
    "monitor.stop": _monitor_stop,
    "storm.set": _storm,
}


async def handle(session: Session, raw: str) -> dict[str, Any] | None:
    """Run one command; the reply to send back (None for fire-and-forget ones like typing)."""
    # Every frame costs a token, a malformed one too: otherwise a flood of garbage is free.
    wait = await session.runtime.limiter.try_acquire(
        f"console:ws:{session.caller.agent_id}", rate=20.0, burst=60)
    try:
        message = json.loads(raw)
    except ValueError:
        message = None
    ref = message.get("ref") if isinstance(message, dict) else None
    if wait > 0:
        return {"type": "error", "ref": ref, "error": "slow_down", "retry_after_s": wait,
                "message": "too many commands"}
    if not isinstance(message, dict):
        return {"type": "error", "ref": None, "error": "invalid", "message": "send JSON objects"}
    command = COMMANDS.get(str(message.get("type")))
    if command is None:
        return {"type": "error", "ref": ref, "error": "unknown_type",
                "message": f"unknown message type {message.get('type')!r}"}
    try:
        data = await command(session, message)
    except DomainError as error:
        return {"type": "error", "ref": ref, "error": error.code, "message": error.message,
                "detail": error.detail or None}
    except Exception:  # an unexpected failure answers this command only, the socket lives on
        log.exception("console command %s failed", message.get("type"))
        return {"type": "error", "ref": ref, "error": "internal", "message": "internal error"}
    if data is None and message.get("type") == "typing":
        return None
    return {"type": "ack", "ref": ref, "ok": True, "data": data}
