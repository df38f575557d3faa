"""Web chat limits in one place: what one connection may send and how long a session lives.

The composition root may put a different `WebchatLimits` in runtime.extras (tests shrink the
hello timeout or the session lifetime); everything else reads it through `limits_of`."""

from __future__ import annotations

from dataclasses import dataclass

from core.runtime import Runtime

EXTRA_KEY = "webchat_limits"


@dataclass(frozen=True, slots=True)
class WebchatLimits:
    # Per connection, over the runtime's RateLimiter port: a person types far slower than
    # this; a script flooding the pipeline gets `slow_down` frames instead of stored rows.
    frames_per_s: float = 5.0
    burst: int = 10
    # A chat message's text (UTF-8 bytes); longer is refused with `too_long`, not truncated.
    max_text_bytes: int = 2048
    # A whole frame; larger closes the socket with 1009 (message too big), as RFC 6455 says.
    max_frame_bytes: int = 16 * 1024
    hello_timeout_s: float = 10.0
    # Sliding: every welcome re-issues the token, so only an abandoned session expires.
    session_ttl_s: int = 30 * 86400
    history_limit: int = 100
    # Frames waiting for a slow browser; past this it is closed (4008) and resumes on reconnect.
    outbox_max: int = 256
    # The customer's "typing" reaches the agent at most this often.
    typing_every_s: float = 2.0


def limits_of(runtime: Runtime) -> WebchatLimits:
    found = runtime.extras.get(EXTRA_KEY)
    return found if isinstance(found, WebchatLimits) else WebchatLimits()
