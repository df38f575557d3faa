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
from urllib.parse import parse_qsl

from fastapi import Depends, Request
from starlette.datastructures import FormData
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

from core.errors import DomainError, Forbidden
from core.http import RuntimeDep

log = logging.getLogger(__name__)

FORM_TYPE = "application/x-www-form-urlencoded"
# A 1,600-character body, ten media URLs and Twilio's other fields fit in a few KB.
MAX_FORM_BYTES = 64 * 1024


class PayloadTooLarge(DomainError):
    status_code = 413
    code = "too_large"


class UnsupportedMediaType(DomainError):
    status_code = 415
    code = "unsupported_media_type"


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
    form = await _capped_form(request)
    algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER))
    validator = RequestValidator(token.get_secret_value())
    if not signature or not validator.validate(
        signed_url(runtime.settings.public_base_url, request), form, signature, algorithm
    ):
        raise Forbidden("invalid Twilio signature")
    return form


async def _capped_form(request: Request) -> FormData:
    """The urlencoded form Twilio posts, refused (413) as soon as it passes MAX_FORM_BYTES:
    read before the signature can be checked, so an unsigned 10 MB post must not be buffered
    and parsed whole."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        raise PayloadTooLarge(f"a Twilio webhook is at most {MAX_FORM_BYTES} bytes")
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != FORM_TYPE:
        raise UnsupportedMediaType(f"Twilio webhooks are {FORM_TYPE}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise PayloadTooLarge(f"a Twilio webhook is at most {MAX_FORM_BYTES} bytes")
    return FormData(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True,
                              encoding="utf-8", errors="replace"))


VerifiedTwilioForm = Annotated[FormData, Depends(verified_twilio_form)]
