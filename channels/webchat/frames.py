"""The frame protocol (PROTOCOL.md) as types: what a browser may send, decoded and checked
here, and the frames the server answers with. No I/O."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from channels.webchat.config import WebchatLimits

# A client message id: the widget uses a UUID; anything of these characters is accepted.
CLIENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
LANGUAGE = re.compile(r"^[a-z]{2}$")
# Control characters other than newline and tab never reach the store (or an agent's screen).
_CONTROL = {"Cc", "Cf"}


class FrameError(Exception):
    """A frame we answer with an `error` frame (the connection stays open)."""

    def __init__(self, code: str, message: str, *, ref: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref


@dataclass(frozen=True, slots=True)
class Hello:
    token: str | None
    after: int = 0
    language: str | None = None


@dataclass(frozen=True, slots=True)
class ChatMessage:
    client_id: str
    text: str


@dataclass(frozen=True, slots=True)
class Typing:
    on: bool


@dataclass(frozen=True, slots=True)
class Ping:
    ref: Any = None


ClientFrame = Hello | ChatMessage | Typing | Ping


def decode(raw: str, *, limits: WebchatLimits) -> ClientFrame:
    """One text frame → a typed frame, or FrameError with the code the client sees."""
    try:
        data = json.loads(raw)
        # "\ud800" is valid JSON but decodes to a lone surrogate, which no UTF-8 can carry:
        # refuse it here, not with a UnicodeEncodeError (close 1011) wherever it is encoded.
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except ValueError:  # UnicodeEncodeError included
        raise FrameError("bad_json", "a frame is one JSON object") from None
    if not isinstance(data, dict):
        raise FrameError("bad_json", "a frame is one JSON object")
    kind = data.get("type")
    if kind == "message":
        return _message(data, limits)
    if kind == "typing":
        return Typing(on=data.get("on", True) is not False)
    if kind == "ping":
        return Ping(ref=data.get("ref"))
    if kind == "hello":
        return _hello(data)
    raise FrameError("unknown_type", f"unknown frame type {str(kind)[:32]!r}")


def _message(data: dict[str, Any], limits: WebchatLimits) -> ChatMessage:
    client_id = data.get("id")
    if not isinstance(client_id, str) or not CLIENT_ID.match(client_id):
        raise FrameError("bad_frame", "a message needs an `id` of 1-64 letters, digits or _.:-")
    text = data.get("text")
    if not isinstance(text, str):
        raise FrameError("bad_frame", "a message needs `text`", ref=client_id)
    if len(text.encode("utf-8")) > limits.max_text_bytes:
        raise FrameError("too_long", f"a message is at most {limits.max_text_bytes} bytes",
                         ref=client_id)
    text = clean_text(text)
    if not text:
        raise FrameError("empty", "a message needs some text", ref=client_id)
    return ChatMessage(client_id=client_id, text=text)


def _hello(data: dict[str, Any]) -> Hello:
    token = data.get("token")
    after = data.get("after")
    language = data.get("lang")
    return Hello(
        token=token if isinstance(token, str) and token else None,
        after=after if isinstance(after, int) and not isinstance(after, bool) and after > 0
        else 0,
        language=language[:2].lower() if isinstance(language, str)
        and LANGUAGE.match(language[:2].lower()) else None,
    )


def clean_text(text: str) -> str:
    """NFC, no control characters but newline and tab, no surrounding blanks."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n"))
    return "".join(c for c in text if c in "\n\t"
                   or unicodedata.category(c) not in _CONTROL).strip()


# -- server → client ------------------------------------------------------------------------

def error_frame(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message,
            **{k: v for k, v in extra.items() if v is not None}}


def message_frame(*, message_id: int, author: str, text: str, at: datetime,
                  quick_replies: list[str] | tuple[str, ...] = (),
                  media: list[str] | tuple[str, ...] = (), client_id: str | None = None,
                  agent_name: str | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "message", "id": message_id, "author": author,
                             "text": text, "at": at.isoformat()}
    if quick_replies:
        frame["quick_replies"] = list(quick_replies)
    if media:
        frame["media"] = list(media)
    if client_id:
        frame["client_id"] = client_id
    if agent_name:
        frame["agent"] = agent_name
    return frame
