"""A stand-in for Twilio's Messages API, for tests and load tests: the real `twilio` client,
pointed at it through HttpxTwilioClient(api_base=...), cannot tell the difference for the
one resource we use. It records what it was asked to send and can answer 429/20429 or
21610 on demand. Never wired in production."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class FakeTwilio:
    sent: list[dict[str, Any]] = field(default_factory=list)
    throttle_next: int = 0  # answer this many creates with 429 / 20429 first
    unsubscribed: set[str] = field(default_factory=set)  # numbers that texted STOP at Twilio
    requests: int = 0

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/2010-04-01/Accounts/{account}/Messages.json",
                                       self._create, methods=["POST"])])

    async def _create(self, request: Request) -> Response:
        self.requests += 1
        form = parse_qs((await request.body()).decode(), keep_blank_values=True)
        fields = {k: v if k == "MediaUrl" else v[0] for k, v in form.items()}
        if self.throttle_next > 0:
            self.throttle_next -= 1
            return _error(429, 20429, "Too Many Requests")
        if fields.get("To") in self.unsubscribed:
            return _error(400, 21610, "Attempt to send to unsubscribed recipient")
        sid = "SM" + secrets.token_hex(16)
        record = {"sid": sid, "account_sid": request.path_params["account"],
                  "to": fields.get("To"), "from": fields.get("From"),
                  "body": fields.get("Body", ""), "status": "queued",
                  "num_media": str(len(fields.get("MediaUrl", []))),
                  "direction": "outbound-api", "api_version": "2010-04-01",
                  "error_code": None, "error_message": None}
        self.sent.append({**record, "form": fields})
        return Response(json.dumps(record), status_code=201, media_type="application/json")


def _error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, "status": status,
                         "more_info": f"https://www.twilio.com/docs/errors/{code}"},
                        status_code=status)
