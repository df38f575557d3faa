"""Notice queries, set-based: planning is one INSERT … SELECT per update, never a loop per
contact; the relay and the workers move rows with guarded UPDATEs. Nothing here commits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Integer,
    String,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from core.accounts.models import Account
from core.consent.models import OptOut
from core.customers.models import Contact
from core.notifications.models import (
    UNSENT,
    Notice,
    NoticeBatch,
    NoticeKind,
    NoticeStatus,
)
from core.outages.enums import Device
from core.outages.models import OutageReport
from core.outages.repository import service_points_under
from core.premises.models import Premise, ServicePoint

_UNSENT = [s.value for s in UNSENT]
_DELIVERED = [NoticeStatus.SENT.value, NoticeStatus.DELIVERED.value]


def _insert(session: AsyncSession, model: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


# -- batches -------------------------------------------------------------------------------


async def insert_batch(session: AsyncSession, *, outage_id: int, kind: NoticeKind, version: int,
                       etr: datetime | None, urgent: bool, trigger: str,
                       now: datetime) -> int | None:
    """The batch's id, or None when this update was already planned (by anyone)."""
    statement = (
        _insert(session, NoticeBatch)
        .values(outage_id=outage_id, kind=kind.value, version=version, etr=etr, urgent=urgent,
                planned=0, trigger=trigger[:40], created_at=now)
        .on_conflict_do_nothing(index_elements=["outage_id", "kind", "version"])
        .returning(NoticeBatch.id)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def batches_of(session: AsyncSession, outage_id: int) -> Sequence[NoticeBatch]:
    rows = await session.scalars(
        select(NoticeBatch).where(NoticeBatch.outage_id == outage_id).order_by(NoticeBatch.id))
    return rows.all()


async def set_planned(session: AsyncSession, batch_id: int, planned: int) -> None:
    await session.execute(update(NoticeBatch).where(NoticeBatch.id == batch_id)
                          .values(planned=planned).execution_options(synchronize_session=False))


# -- planning ------------------------------------------------------------------------------


def _address() -> Any:
    """The address a notice goes to: the contact's value, `whatsapp:`-prefixed for WhatsApp."""
    whatsapp = and_(Contact.kind == "phone", Contact.preferred_channel == "whatsapp")
    return case((whatsapp, literal_column("'whatsapp:'") + Contact.value), else_=Contact.value)


def _channel() -> Any:
    """By the contact's preferred channel. Voice-preferring phones get SMS: outbound IVR
    calls are not built, and a text is what a storm-time customer can read later."""
    return case(
        (Contact.kind == "email", literal("email")),
        (Contact.preferred_channel == "whatsapp", literal("whatsapp")),
        else_=literal("sms"),
    )


def recipients(devices: Sequence[Device], *, reporters_of: Sequence[int] | None = None) -> Any:
    """Every subscribed, not opted-out address of the premises under the devices: one row per
    address (a landlord with ten premises under the outage hears once). `reporters_of`: only
    premises that reported one of these outages."""
    address = _address().label("address")
    under = or_(*(ServicePoint.id.in_(service_points_under(d)) for d in devices))
    if reporters_of is not None:
        under = and_(under, Premise.id.in_(select(OutageReport.premise_id).where(
            OutageReport.outage_id.in_(list(reporters_of)))))
    opted_out = exists().where(OptOut.opted_out.is_(True),
                               OptOut.address.in_([Contact.value, _address()]))
    return (
        select(
            address,
            func.min(_channel()).label("channel"),
            func.min(Contact.id).label("contact_id"),
            func.min(Contact.customer_id).label("customer_id"),
            func.min(Premise.id).label("premise_id"),
            func.min(Contact.language).label("language"),
        )
        .select_from(ServicePoint)
        .join(Premise, Premise.id == ServicePoint.premise_id)
        .join(Account, Account.id == Premise.account_id)
        .join(Contact, Contact.customer_id == Account.customer_id)
        .where(under, Contact.outage_alerts.is_(True), ~opted_out)
        .group_by(address)
    )


async def plan(session: AsyncSession, *, batch_id: int, outage_id: int, kind: NoticeKind,
               version: int, devices: Sequence[Device], status: NoticeStatus,
               not_before: datetime, urgent: bool, now: datetime,
               already_told_by: Sequence[int] = (),
               reporters_of: Sequence[int] | None = None) -> int:
    """INSERT … SELECT the batch's notices; returns how many rows it wrote.

    `already_told_by`: outages (merged into this one) whose initial alert an address already
    got or will get; those addresses are not alerted again for the same dark house."""
    found = recipients(devices, reporters_of=reporters_of).subquery("r")
    source = select(
        literal(batch_id, Integer), literal(outage_id, Integer), literal(kind.value, String),
        literal(version, Integer), found.c.address, found.c.channel, found.c.contact_id,
        found.c.customer_id, found.c.premise_id, found.c.language, literal(urgent),
        literal(status.value, String), literal(not_before, Notice.not_before.type),
        literal(0, Integer), literal(now, Notice.created_at.type),
    ).select_from(found)
    # SQLite needs a WHERE in an INSERT … SELECT … ON CONFLICT (its parser), so always have one.
    condition = found.c.address.is_not(None)
    if already_told_by:
        told = Notice.__table__.alias("told")
        condition = and_(condition, ~exists().where(
            told.c.address == found.c.address, told.c.kind == NoticeKind.INITIAL.value,
            told.c.outage_id.in_(list(already_told_by)),
            told.c.status.in_([*_UNSENT, NoticeStatus.SENDING.value, *_DELIVERED]),
        ))
    columns = ["batch_id", "outage_id", "kind", "version", "address", "channel", "contact_id",
               "customer_id", "premise_id", "language", "urgent", "status", "not_before",
               "attempts", "created_at"]
    statement = (
        _insert(session, Notice)
        .from_select(columns, source.where(condition))
        .on_conflict_do_nothing(index_elements=["address", "outage_id", "kind", "version"])
    )
    result = await session.execute(statement)
    return max(0, result.rowcount or 0)  # type: ignore[attr-defined]


async def supersede(session: AsyncSession, *, outage_ids: Sequence[int],
                    kinds: Sequence[NoticeKind], now: datetime,
                    below_version: int | None = None) -> int:
    """Unsent notices a newer update made pointless (a queued one's claim will now fail)."""
    if not outage_ids:
        return 0
    statement = update(Notice).where(
        Notice.outage_id.in_(list(outage_ids)), Notice.kind.in_([k.value for k in kinds]),
        Notice.status.in_(_UNSENT),
    )
    if below_version is not None:
        statement = statement.where(Notice.version < below_version)
    result = await session.execute(
        statement.values(status=NoticeStatus.SUPERSEDED.value, status_at=now)
        .execution_options(synchronize_session=False))
    return result.rowcount or 0  # type: ignore[attr-defined]


# -- relay ---------------------------------------------------------------------------------


async def take_due(session: AsyncSession, *, now: datetime, limit: int) -> list[int]:
    """Mark up to `limit` due rows queued and return them, urgent first. SKIP LOCKED lets two
    relays run at once on PostgreSQL without taking the same rows (SQLite has one writer)."""
    waiting = Notice.status.in_([NoticeStatus.PENDING.value,
                                 NoticeStatus.HELD_QUIET_HOURS.value])
    # A plain read first: an idle relay never takes SQLite's write lock.
    if await session.scalar(select(Notice.id).where(waiting, Notice.not_before <= now)
                            .limit(1)) is None:
        return []
    due = (
        select(Notice.id)
        .where(waiting, Notice.not_before <= now)
        .order_by(Notice.urgent.desc(), Notice.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    result = await session.execute(
        update(Notice).where(Notice.id.in_(due.scalar_subquery()))
        .values(status=NoticeStatus.QUEUED.value, queued_at=now)
        .returning(Notice.id).execution_options(synchronize_session=False))
    return sorted(result.scalars())


async def count_in(session: AsyncSession, status: NoticeStatus) -> int:
    return int(await session.scalar(
        select(func.count()).select_from(Notice).where(Notice.status == status.value)) or 0)


async def stuck(session: AsyncSession, *, queued_before: datetime, claimed_before: datetime,
                now: datetime, limit: int) -> list[int]:
    """Rows whose queue entry may be lost (a relay died between commit and enqueue, Redis lost
    a stream) or whose sender died mid-send: they are queued again; duplicates are harmless,
    because only one claim of a row can ever win."""
    lost = or_(
        and_(Notice.status == NoticeStatus.QUEUED.value, Notice.queued_at < queued_before),
        and_(Notice.status == NoticeStatus.SENDING.value, Notice.claimed_at < claimed_before),
    )
    if await session.scalar(select(Notice.id).where(lost).limit(1)) is None:
        return []
    result = await session.execute(
        update(Notice).where(Notice.id.in_(
            select(Notice.id).where(lost).limit(limit)
            .with_for_update(skip_locked=True).scalar_subquery()))
        .values(queued_at=now).returning(Notice.id)
        .execution_options(synchronize_session=False))
    return sorted(result.scalars())


# -- sending -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NoticeRow:
    id: int
    outage_id: int
    kind: str
    version: int
    address: str
    channel: str
    contact_id: int | None
    language: str
    status: str
    attempts: int
    claimed_at: datetime | None
    sender: str | None
    body: str | None


async def load(session: AsyncSession, ids: Iterable[int]) -> list[NoticeRow]:
    rows = await session.execute(
        select(Notice.id, Notice.outage_id, Notice.kind, Notice.version, Notice.address,
               Notice.channel, Notice.contact_id, Notice.language, Notice.status,
               Notice.attempts, Notice.claimed_at, Notice.sender, Notice.body)
        .where(Notice.id.in_(list(ids))).order_by(Notice.id))
    return [NoticeRow(*row) for row in rows.tuples()]


async def count_pending(session: AsyncSession, ids: Sequence[int]) -> int:
    return int(await session.scalar(select(func.count()).select_from(Notice).where(
        Notice.id.in_(list(ids)), Notice.status == NoticeStatus.PENDING.value)) or 0)


async def opted_out(session: AsyncSession, addresses: Iterable[str]) -> set[str]:
    """Which of these addresses (or the phone behind a whatsapp: one) said STOP."""
    wanted: set[str] = set()
    for address in addresses:
        wanted.add(address)
        wanted.add(address.removeprefix("whatsapp:"))
    if not wanted:
        return set()
    found = set((await session.scalars(
        select(OptOut.address).where(OptOut.opted_out.is_(True),
                                     OptOut.address.in_(sorted(wanted))))).all())
    return {a for a in addresses if a in found or a.removeprefix("whatsapp:") in found}


async def unsubscribed(session: AsyncSession, contact_ids: Iterable[int]) -> set[int]:
    ids = sorted(set(contact_ids))
    if not ids:
        return set()
    rows = await session.scalars(select(Contact.id).where(
        Contact.id.in_(ids), Contact.outage_alerts.is_(False)))
    return set(rows.all())


async def newest_versions(session: AsyncSession, outage_ids: Iterable[int]
                          ) -> dict[tuple[int, str], int]:
    """(outage, kind) → the newest planned version: an ETR notice older than the newest ETR
    batch, or planned before the restoration, is superseded."""
    ids = sorted(set(outage_ids))
    if not ids:
        return {}
    rows = await session.execute(
        select(NoticeBatch.outage_id, NoticeBatch.kind, func.max(NoticeBatch.version))
        .where(NoticeBatch.outage_id.in_(ids))
        .group_by(NoticeBatch.outage_id, NoticeBatch.kind))
    return {(o, k): v for o, k, v in rows.tuples()}


async def mark(session: AsyncSession, ids: Sequence[int], *, status: NoticeStatus,
               now: datetime, expected: Sequence[NoticeStatus], error_code: str | None = None
               ) -> int:
    if not ids:
        return 0
    result = await session.execute(
        update(Notice).where(Notice.id.in_(list(ids)),
                             Notice.status.in_([s.value for s in expected]))
        .values(status=status.value, status_at=now, error_code=error_code)
        .execution_options(synchronize_session=False))
    return result.rowcount or 0  # type: ignore[attr-defined]


def _blocking_sibling(kind: str) -> Any:
    """The claim's guard against sending out of order to one address about one outage.

    Nothing goes while another notice of the same (address, outage) is mid-send; an ETR update
    waits until the initial alert went (or was dropped); and no initial or ETR notice goes if
    this address was already sent a newer ETR than the one this body tells."""
    sibling = Notice.__table__.alias("sibling")
    me = Notice.__table__
    blocks = sibling.c.status == NoticeStatus.SENDING.value
    if kind == NoticeKind.ETR.value:
        blocks = or_(blocks, and_(sibling.c.kind == NoticeKind.INITIAL.value,
                                  sibling.c.status.in_(_UNSENT)))
    if kind in (NoticeKind.INITIAL.value, NoticeKind.ETR.value):
        blocks = or_(blocks, and_(sibling.c.status.in_(_DELIVERED),
                                  sibling.c.told_etr_version > bindparam("told")))
    return exists().where(sibling.c.address == me.c.address,
                          sibling.c.outage_id == me.c.outage_id,
                          sibling.c.id != me.c.id, blocks)


@lru_cache(maxsize=8)
def _claim_statement(kind: str) -> Any:
    """Built once per kind: the statement cache then skips compiling it per batch."""
    table = Notice.__table__
    now = bindparam("now", type_=Notice.claimed_at.type)
    return (
        update(table)
        .where(table.c.id.in_(bindparam("ids", expanding=True)),
               table.c.status == NoticeStatus.QUEUED.value, ~_blocking_sibling(kind))
        .values(status=NoticeStatus.SENDING.value, claimed_at=now, status_at=now,
                attempts=table.c.attempts + 1)
        .returning(table.c.id)
    )


@lru_cache(maxsize=1)
def _details_statement() -> Any:
    table = Notice.__table__
    return (update(table).where(table.c.id == bindparam("notice_id"))
            .values(body=bindparam("body_"), sender=bindparam("sender_"),
                    told_etr_version=bindparam("told_")))


@dataclass(frozen=True, slots=True)
class Claim:
    """A row about to be sent, with what it will say and from which number."""

    row: NoticeRow
    sender: str
    body: str
    told: int


async def claim_many(session: AsyncSession, claims: Sequence[Claim], *,
                     now: datetime) -> set[int]:
    """queued → sending, right before the provider calls: exactly one process wins each row,
    and only if no sibling notice makes it stale or out of order. Claims of one kind and ETR
    version go in one statement; what each will say is written in the same transaction."""
    groups: dict[tuple[str, int], list[int]] = {}
    for claim in claims:
        groups.setdefault((claim.row.kind, claim.told), []).append(claim.row.id)
    won: set[int] = set()
    for (kind, told), ids in groups.items():
        params: dict[str, Any] = {"ids": ids, "now": now}
        if kind != NoticeKind.RESTORATION.value:
            params["told"] = told
        won |= set((await session.execute(_claim_statement(kind), params)).scalars())
    details = [{"notice_id": c.row.id, "body_": c.body, "sender_": c.sender, "told_": c.told}
               for c in claims if c.row.id in won]
    if details:
        await session.execute(_details_statement(), details)
    return won


async def reclaim(session: AsyncSession, row: NoticeRow, *, now: datetime) -> bool:
    """Take over a row a dead worker left mid-send (the provider never got it)."""
    result = await session.execute(
        update(Notice).where(Notice.id == row.id, Notice.status == NoticeStatus.SENDING.value,
                             Notice.claimed_at == row.claimed_at)
        .values(claimed_at=now, attempts=Notice.attempts + 1, status_at=now)
        .execution_options(synchronize_session=False))
    return (result.rowcount or 0) == 1  # type: ignore[attr-defined]


async def sibling_state(session: AsyncSession, row: NoticeRow) -> list[tuple[str, str, int | None]]:
    """(kind, status, told_etr_version) of the other notices to this address for this outage."""
    rows = await session.execute(
        select(Notice.kind, Notice.status, Notice.told_etr_version)
        .where(Notice.address == row.address, Notice.outage_id == row.outage_id,
               Notice.id != row.id))
    return list(rows.tuples())


async def record(session: AsyncSession, results: Sequence[dict[str, Any]]) -> None:
    """Write send outcomes in one executemany; each only applies to a row still `sending`."""
    if not results:
        return
    table = Notice.__table__
    statement = (
        update(table)
        .where(table.c.id == bindparam("notice_id"),
               table.c.status == NoticeStatus.SENDING.value)
        .values(status=bindparam("new_status"), provider_id=bindparam("provider_id"),
                error_code=bindparam("error"), sent_at=bindparam("sent_at"),
                status_at=bindparam("at"), not_before=bindparam("retry_at"))
    )
    keys = ("notice_id", "new_status", "provider_id", "error", "sent_at", "at", "retry_at")
    await session.execute(statement, [{k: r[k] for k in keys} for r in results])


async def record_delivery(session: AsyncSession, *, notice_id: int, status: NoticeStatus,
                          now: datetime, error_code: str | None = None) -> bool:
    """A provider status callback: only forward (sent → delivered | failed), never back."""
    result = await session.execute(
        update(Notice).where(Notice.id == notice_id, Notice.status.in_(
            [NoticeStatus.SENT.value, NoticeStatus.SENDING.value]))
        .values(status=status.value, status_at=now, error_code=error_code)
        .execution_options(synchronize_session=False))
    return (result.rowcount or 0) == 1  # type: ignore[attr-defined]


# -- counts for the dashboard --------------------------------------------------------------


async def status_counts(session: AsyncSession, *, since: datetime | None = None
                        ) -> dict[str, int]:
    statement = select(Notice.status, func.count()).group_by(Notice.status)
    if since is not None:
        statement = statement.where(Notice.created_at >= since)
    rows = await session.execute(statement)
    return {status: int(n) for status, n in rows.tuples()}


async def record_accepted(session: AsyncSession, *, notice_id: int, provider_id: str | None,
                          now: datetime) -> bool:
    """The provider's callback proves it took a notice its worker never recorded (it died)."""
    result = await session.execute(
        update(Notice).where(Notice.id == notice_id,
                             Notice.status == NoticeStatus.SENDING.value)
        .values(status=NoticeStatus.SENT.value, provider_id=provider_id, sent_at=now,
                status_at=now)
        .execution_options(synchronize_session=False))
    return (result.rowcount or 0) == 1  # type: ignore[attr-defined]
