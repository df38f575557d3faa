"""The outside outage management system's webhook contract: signature check and payload shapes.

`POST /api/v1/oms/events`, a JSON array of events, signed with the shared secret
(`STORMDESK_OMS_WEBHOOK_SECRET`):

    X-Stormdesk-Timestamp: <unix seconds>
    X-Stormdesk-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + raw body)>

The timestamp is inside the signed bytes, so a captured delivery cannot be replayed later with
a fresh timestamp; deliveries more than five minutes off our clock are refused. Each event has
an `event_id` and is applied at most once, so the OMS may retry a whole batch safely.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Annotated, Literal, Self

from fastapi import Depends, Request
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import DomainError, Forbidden, Invalid, NotFound, Unavailable
from core.http import RuntimeDep
from core.network.models import Feeder, Substation, Transformer
from core.outages.enums import Device, DeviceKind
from core.premises.models import ServicePoint

SIGNATURE_HEADER = "X-Stormdesk-Signature"
TIMESTAMP_HEADER = "X-Stormdesk-Timestamp"
MAX_SKEW_S = 300  # both ways: an old capture and a sender whose clock runs ahead
MAX_EVENTS = 1000
MAX_BODY_BYTES = 1_000_000  # read before the signature is checked, so it is capped


class PayloadTooLarge(DomainError):
    status_code = 413
    code = "too_large"


# -- signature -----------------------------------------------------------------------------


def signature_for(secret: str, timestamp: str, body: bytes) -> str:
    """The header value the OMS sends (for integrators' tooling; tests compute it themselves)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify_signature(
    *, secret: str, body: bytes, timestamp: str | None, signature: str | None, now: float
) -> None:
    """Refuse (403) unless the body and timestamp were signed with our secret, recently."""
    if not timestamp or not signature:
        raise Forbidden(f"{SIGNATURE_HEADER} and {TIMESTAMP_HEADER} are required")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise Forbidden(f"{TIMESTAMP_HEADER} must be Unix seconds") from None
    if abs(now - sent_at) > MAX_SKEW_S:
        raise Forbidden("the delivery is more than 5 minutes away from our clock")
    expected = signature_for(secret, timestamp, body)
    # Bytes, not str: compare_digest refuses non-ASCII str, and a forger may send anything.
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise Forbidden("signature does not match")


async def verified_oms_body(request: Request, runtime: RuntimeDep) -> bytes:
    """The raw body, only once its signature checks out (STYLE 4: verification is a dependency)."""
    secret = runtime.settings.oms_webhook_secret
    if secret is None or not secret.get_secret_value():
        raise Unavailable("the OMS webhook is disabled: STORMDESK_OMS_WEBHOOK_SECRET is not set")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"an OMS delivery may be at most {MAX_BODY_BYTES} bytes")
    raw = bytes(body)
    verify_signature(
        secret=secret.get_secret_value(),
        body=raw,
        timestamp=request.headers.get(TIMESTAMP_HEADER),
        signature=request.headers.get(SIGNATURE_HEADER),
        now=time.time(),
    )
    return raw


VerifiedOmsBody = Annotated[bytes, Depends(verified_oms_body)]


# -- payload -------------------------------------------------------------------------------


class DeviceRef(BaseModel):
    """A device by our id or by its code on the network (a service point's code is its meter)."""

    model_config = ConfigDict(extra="forbid")

    kind: DeviceKind
    id: int | None = None
    code: str | None = Field(default=None, min_length=1, max_length=32)

    @model_validator(mode="after")
    def _one_key(self) -> Self:
        if (self.id is None) == (self.code is None):
            raise ValueError("give the device's id or its code, not both")
        return self


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: str = Field(min_length=1, max_length=200)
    # When it happened in the OMS; defaults to when we received it.
    occurred_at: AwareDatetime | None = None


class _OnOutage(_Event):
    """Names the outage by our id, or by its device (the device's live outage)."""

    outage_id: int | None = None
    device: DeviceRef | None = None
    expected_version: int | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        if (self.outage_id is None) == (self.device is None):
            raise ValueError("give outage_id or device, not both")
        return self


class ConfirmEvent(_OnOutage):
    type: Literal["confirm"]
    cause: str | None = Field(default=None, max_length=80)


class EtrEvent(_OnOutage):
    type: Literal["etr"]
    etr: AwareDatetime | None  # required: null clears the ETR; a naive time is refused


class CrewEvent(_OnOutage):
    type: Literal["crew"]
    crew: str | None = Field(max_length=40)


class CauseEvent(_OnOutage):
    type: Literal["cause"]
    cause: str | None = Field(max_length=80)


class RestoreEvent(_OnOutage):
    type: Literal["restore"]


class MergeEvent(_OnOutage):
    """The outage named by outage_id/device (checked against expected_version) folds into the
    one named by into_outage_id/into_device."""

    type: Literal["merge"]
    into_outage_id: int | None = None
    into_device: DeviceRef | None = None

    @model_validator(mode="after")
    def _one_parent(self) -> Self:
        if (self.into_outage_id is None) == (self.into_device is None):
            raise ValueError("give into_outage_id or into_device, not both")
        return self


class LastGaspEvent(_Event):
    type: Literal["last_gasp"]
    meter_number: str = Field(min_length=1, max_length=32)


OmsEvent = Annotated[
    ConfirmEvent | EtrEvent | CrewEvent | CauseEvent | RestoreEvent | MergeEvent | LastGaspEvent,
    Field(discriminator="type"),
]
_BATCH: TypeAdapter[list[OmsEvent]] = TypeAdapter(
    Annotated[list[OmsEvent], Field(min_length=1, max_length=MAX_EVENTS)]
)


def parse_events(body: bytes) -> list[OmsEvent]:
    """The batch, or a 422 naming each bad field as `[index].field`."""
    try:
        return _BATCH.validate_json(body)
    except ValidationError as exc:
        errors = [
            {"at": _where(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()
        ]
        first = errors[0]
        where = f"{first['at']}: " if first["at"] else ""
        raise Invalid(f"OMS payload is malformed: {where}{first['msg']}", errors=errors) from None


def _where(loc: tuple[int | str, ...]) -> str:
    # pydantic puts the union's tag ("etr") into the path; the sender never wrote it.
    parts = [f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc]
    if len(loc) > 1 and isinstance(loc[0], int):
        parts.pop(1)
    return "".join(parts).lstrip(".")


class OmsEventResult(BaseModel):
    """`duplicate`: seen before, not applied again; `rejected`: refused, with the reason."""

    event_id: str
    status: Literal["applied", "duplicate", "rejected"]
    outage_id: int | None = None
    error: str | None = None
    error_status: int | None = None


class OmsReceipt(BaseModel):
    results: list[OmsEventResult]


# -- naming devices ------------------------------------------------------------------------

_NETWORK = {
    DeviceKind.SUBSTATION: Substation,
    DeviceKind.FEEDER: Feeder,
    DeviceKind.TRANSFORMER: Transformer,
}


async def resolve_device(session: AsyncSession, ref: DeviceRef) -> Device:
    """Our device for the reference, or 404: an outage on equipment we don't know is a typo."""
    if ref.kind is DeviceKind.SERVICE_POINT:
        key, code = ServicePoint.id, ServicePoint.meter_number
    else:
        model = _NETWORK[ref.kind]
        key, code = model.id, model.code
    found = await session.scalar(
        select(key).where(key == ref.id if ref.id is not None else code == ref.code)
    )
    if found is None:
        raise NotFound(f"no {ref.kind.value} {ref.id if ref.id is not None else ref.code!r}")
    return Device(ref.kind, found)
