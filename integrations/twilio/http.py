"""The twilio package's async transport, on httpx, able to point at another API origin.

The official client builds absolute URLs (https://api.twilio.com/2010-04-01/...) inside its
generated resources; the one seam it offers for where requests go is the HttpClient it is
given (`Client(http_client=...)`). Rewriting the origin there, rather than patching each
domain's `base_url`, reaches every API domain at once, keeps paths, auth and form encoding
exactly the package's own, and lets load tests aim the real client at a local fake.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit, urlunsplit

import httpx
from twilio.http import AsyncHttpClient
from twilio.http.response import Response

log = logging.getLogger(__name__)


class HttpxTwilioClient(AsyncHttpClient):
    """A pooled httpx client for `twilio.rest.Client`; `api_base` replaces the scheme and host
    of every request (e.g. http://127.0.0.1:9911 for the fake in integrations/twilio/fake_api)."""

    def __init__(self, *, api_base: str | None = None, timeout: float = 10.0,
                 transport: httpx.AsyncBaseTransport | None = None,
                 max_connections: int = 50) -> None:
        super().__init__(log, True, timeout)
        self._origin = urlsplit(api_base) if api_base else None
        self._http = httpx.AsyncClient(
            timeout=timeout, transport=transport,
            limits=httpx.Limits(max_connections=max_connections,
                                max_keepalive_connections=max_connections),
        )

    def rebase(self, url: str) -> str:
        if self._origin is None:
            return url
        parts = urlsplit(url)
        prefix = self._origin.path.rstrip("/")
        return urlunsplit((self._origin.scheme, self._origin.netloc, prefix + parts.path,
                           parts.query, parts.fragment))

    async def request(  # type: ignore[override]
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        # The base class logs full request URLs and headers at INFO; we log nothing that
        # could carry a customer's number.
        response = await self._http.request(
            method.upper(), self.rebase(uri), params=params, data=data, headers=headers,
            auth=auth, timeout=timeout or self.timeout, follow_redirects=allow_redirects,
        )
        return Response(response.status_code, response.text, response.headers)

    async def aclose(self) -> None:
        await self._http.aclose()
