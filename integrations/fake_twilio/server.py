"""The fake's Starlette app. The rate rule is a sliding one-second window per From number:
a create that would be the (N+1)th accepted within the last second is refused with HTTP 429
and Twilio error 20429, which is the strictest reading of "N messages per second"."""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

MESSAGES = "/2010-04-01/Accounts/{account}/Messages.json"
TOO_MANY_REQUESTS = 20429


@dataclass
class FakeTwilioConfig:
    mps: float = 100.0  # accepted messages per second per From number
    mps_overrides: dict[str, float] = field(default_factory=dict)
    inject_429: float = 0.0  # share of creates refused with 429 at random
    inject_500: float = 0.0  # share of creates answered 500 at random (not created)
    burst_every_s: float = 0.0  # every this many seconds …
    burst_for_s: float = 0.0  # … refuse every create with 429 for this long
    latency_s: float = 0.0  # answer this much later (an accepted message is recorded first)
    seed: int = 7


@dataclass
class Accepted:
    sid: str
    to: str
    from_: str
    body: str
    at: float  # time.time() when accepted
    status_callback: str | None
    date_created: str


class FakeTwilioApi:
    def __init__(self, config: FakeTwilioConfig | None = None) -> None:
        self.config = config or FakeTwilioConfig()
        self.accepted: list[Accepted] = []
        self.by_pair: dict[tuple[str, str], list[int]] = {}
        self.windows: dict[str, deque[float]] = {}
        self.counts = {"requests": 0, "accepted": 0, "rate_limited": 0, "injected_429": 0,
                       "injected_500": 0, "burst_429": 0, "lookups": 0}
        self.started = time.monotonic()
        self._random = random.Random(self.config.seed)

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route(MESSAGES, self._create, methods=["POST"]),
            Route(MESSAGES, self._list, methods=["GET"]),
            Route("/_fake/messages", self._dump, methods=["GET"]),
            Route("/_fake/stats", self._stats, methods=["GET"]),
            Route("/_fake/config", self._configure, methods=["POST"]),
            Route("/_fake/reset", self._reset, methods=["POST"]),
        ])

    # -- the Twilio side -------------------------------------------------------------------

    async def _create(self, request: Request) -> Response:
        self.counts["requests"] += 1
        try:
            raw = await request.body()
        except ClientDisconnect:  # the client gave up (a timeout, a killed worker): no message
            return Response(status_code=499)
        form = parse_qs(raw.decode(), keep_blank_values=True)
        fields = {k: v[0] for k, v in form.items()}
        sender, to = fields.get("From", ""), fields.get("To", "")
        refusal = self._refusal(sender)
        if refusal is not None:
            return refusal
        now = time.time()
        sid = "SM" + secrets.token_hex(16)
        created = format_datetime(datetime.fromtimestamp(now, UTC))
        record = Accepted(sid=sid, to=to, from_=sender, body=fields.get("Body", ""), at=now,
                          status_callback=fields.get("StatusCallback"), date_created=created)
        self.by_pair.setdefault((to, sender), []).append(len(self.accepted))
        self.accepted.append(record)
        self.counts["accepted"] += 1
        if self.config.latency_s:
            await asyncio.sleep(self.config.latency_s)
        return Response(json.dumps(_resource(record, request.path_params["account"])),
                        status_code=201, media_type="application/json")

    def _refusal(self, sender: str) -> Response | None:
        cfg = self.config
        in_burst = cfg.burst_every_s and cfg.burst_for_s and (
            (time.monotonic() - self.started) % cfg.burst_every_s < cfg.burst_for_s)
        if in_burst:
            self.counts["burst_429"] += 1
            return _error(429, TOO_MANY_REQUESTS, "Too Many Requests (burst)")
        roll = self._random.random()
        if roll < cfg.inject_429:
            self.counts["injected_429"] += 1
            return _error(429, TOO_MANY_REQUESTS, "Too Many Requests (injected)")
        if roll < cfg.inject_429 + cfg.inject_500:
            self.counts["injected_500"] += 1
            return _error(500, 20500, "Internal Server Error (injected)")
        limit = cfg.mps_overrides.get(sender, cfg.mps)
        window = self.windows.setdefault(sender, deque())
        now = time.monotonic()
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) >= limit:
            self.counts["rate_limited"] += 1
            return _error(429, TOO_MANY_REQUESTS, "Too Many Requests")
        window.append(now)
        return None

    async def _list(self, request: Request) -> Response:
        """Newest first, filtered by To and From, one page (what find_sent reads)."""
        self.counts["lookups"] += 1
        to, sender = request.query_params.get("To", ""), request.query_params.get("From", "")
        size = int(request.query_params.get("PageSize", "50"))
        indexes = self.by_pair.get((to, sender), [])[-size:][::-1]
        account = request.path_params["account"]
        page = [_resource(self.accepted[i], account) for i in indexes]
        return JSONResponse({"messages": page, "page": 0, "page_size": size,
                             "next_page_uri": None, "previous_page_uri": None,
                             "uri": request.url.path, "first_page_uri": request.url.path})

    # -- the test side ---------------------------------------------------------------------

    async def _dump(self, request: Request) -> Response:
        after = int(request.query_params.get("after", "0"))
        rows = [{"i": i, "sid": a.sid, "to": a.to, "from": a.from_, "body": a.body, "at": a.at,
                 "callback": a.status_callback}
                for i, a in enumerate(self.accepted[after:], start=after)]
        return JSONResponse({"messages": rows, "next": len(self.accepted)})

    async def _stats(self, _request: Request) -> Response:
        return JSONResponse({**self.counts, "config": asdict(self.config)})

    async def _configure(self, request: Request) -> Response:
        changes: dict[str, Any] = await request.json()
        for key, value in changes.items():
            if hasattr(self.config, key):
                setattr(self.config, key, value)
        return JSONResponse(asdict(self.config))

    async def _reset(self, _request: Request) -> Response:
        self.accepted.clear()
        self.by_pair.clear()
        self.windows.clear()
        self.counts = dict.fromkeys(self.counts, 0)
        return JSONResponse({"ok": True})


def _resource(record: Accepted, account: str) -> dict[str, Any]:
    return {"sid": record.sid, "account_sid": account, "to": record.to, "from": record.from_,
            "body": record.body, "status": "queued", "num_segments": "1", "num_media": "0",
            "direction": "outbound-api", "api_version": "2010-04-01",
            "date_created": record.date_created, "date_updated": record.date_created,
            "date_sent": None, "error_code": None, "error_message": None, "price": None,
            "uri": f"/2010-04-01/Accounts/{account}/Messages/{record.sid}.json"}


def _error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, "status": status,
                         "more_info": f"https://www.twilio.com/docs/errors/{code}"},
                        status_code=status)
