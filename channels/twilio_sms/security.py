"""Twilio webhook signatures, checked as a FastAPI dependency before anything is read or
stored (STYLE 4; Rasa's Twilio channel skips this, Chatwoot PR #13638 shows the hole).

Twilio signs the full URL it called plus the sorted POST fields with the account's Auth
Token (HMAC-SHA1, or SHA-256 when X-Twilio-Webhooks-Signature-Settings says so). Behind a
proxy or tunnel the URL the app sees is not the one Twilio called, so we rebuild it from
PUBLIC_BASE_URL + path + query — the same string configured in the Twilio console.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

from core.errors import Forbidden
from core.http import RuntimeDep

log = logging.getLogger(__name__)


def signed_url(public_base_url: str, request: Request) -> str:
    url = public_base_url.rstrip("/") + request.url.path
    return f"{url}?{request.url.query}" if request.url.query else url


async def verified_twilio_form(request: Request, runtime: RuntimeDep) -> FormData:
    """The webhook's form fields, or 403 when the signature is missing or wrong."""
    token = runtime.settings.twilio_auth_token
    if token is None:
        log.warning("Twilio webhook refused: TWILIO_AUTH_TOKEN is not set")
        raise Forbidden("Twilio webhooks are not configured")
    signature = request.headers.get(SIGNATURE_HEADER, "")
    form = await request.form()
    algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER))
    validator = RequestValidator(token.get_secret_value())
    if not signature or not validator.validate(
        signed_url(runtime.settings.public_base_url, request), form, signature, algorithm
    ):
        raise Forbidden("invalid Twilio signature")
    return form


VerifiedTwilioForm = Annotated[FormData, Depends(verified_twilio_form)]
