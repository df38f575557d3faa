"""Sending notices: a worker takes a chunk of notice ids from the durable queue, drops what
became pointless (superseded, opted out), and sends the rest, each claimed right before its
provider call and paced per sender number.

Exactly once, even when a worker is SIGKILLed mid-send:
- a row is sent only after `queued → sending` succeeded for this process (guarded UPDATE);
- the provider call is bounded (`stale_claim / 2`), so a row still `sending` after
  `stale_claim` belongs to a dead worker; whoever inherits it asks the provider whether that
  exact message was accepted (`find_sent`) and sends only if it was not;
- the queue entry is acknowledged after every row's outcome is written.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import utcnow
from core.conversations import compliance
from core.conversations.schemas import Outgoing, SendFailed, SendReceipt
from core.db import unit_of_work
from core.notifications import repository
from core.notifications.hints import RestorationSent, set_restoration_hints
from core.notifications.models import Notice, NoticeKind, NoticeStatus
from core.notifications.policy import NoticePolicy
from core.notifications.ports import NoticeSender
from core.notifications.repository import NoticeRow
from core.notifications.texts import OutageFacts, render
from core.outages.models import Outage
from core.ports import RateLimiter
from core.runtime import Runtime

log = logging.getLogger(__name__)

NOTICE_STREAM = "notices.outbound"
NOTICE_GROUP = "stormdesk-notices"
DEFER = timedelta(seconds=5)  # an out-of-order notice waits this long for its sibling
DEFAULT_MPS = 1.0  # a sender that does not say its rate is treated as one long code
EARLY_WAITS = (0.02, 0.05, 0.1, 0.2, 0.5, 0.0)


@dataclass(slots=True)
class ChunkOutcome:
    sent: int = 0
    skipped: int = 0
    superseded: int = 0
    deferred: int = 0
    failed: int = 0
    retried: int = 0
    reconciled: int = 0
    # Some rows were still `pending` when read: their relay had not committed yet (or died).
    # The entry is left unacknowledged, so it comes back once they say `queued`.
    early: bool = False
    statuses: dict[int, str] = field(default_factory=dict)


class NoticeDispatcher:
    """One per worker process; `handle(ids)` is safe to run for many chunks at once."""

    def __init__(self, runtime: Runtime, policy: NoticePolicy,
                 senders: Mapping[str, NoticeSender], *,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.runtime = runtime
        self.policy = policy
        self.senders = senders
        self.clock = clock
        self.limiter: RateLimiter = runtime.limiter
        self.slots = asyncio.Semaphore(policy.in_flight)
        self.send_timeout = max(1.0, policy.stale_claim.total_seconds() / 2)
        self.claims = ClaimBatcher(runtime, clock)

    # -- one chunk -------------------------------------------------------------------------

    async def handle(self, ids: list[int]) -> ChunkOutcome:
        outcome = ChunkOutcome()
        for wait in EARLY_WAITS:  # the relay XADDs just before it commits: give it a moment
            async with self.runtime.sessions() as session:
                pending = await repository.count_pending(session, ids)
            if not pending:
                break
            await asyncio.sleep(wait)
        now = self.clock()
        async with unit_of_work(self.runtime.sessions) as session:
            rows = await repository.load(session, ids)
            outcome.early = any(r.status == NoticeStatus.PENDING for r in rows)
            todo = [r for r in rows if r.status == NoticeStatus.QUEUED]
            stale = [r for r in rows if r.status == NoticeStatus.SENDING and r.claimed_at
                     is not None and r.claimed_at < now - self.policy.stale_claim]
            todo = await self._drop_pointless(session, todo, now, outcome)
            facts = await self._facts(session, {r.outage_id for r in [*todo, *stale]})
        results: list[dict[str, Any]] = []
        restored: list[RestorationSent] = []
        tasks = [self._send(row, facts, results, restored, outcome) for row in todo]
        tasks += [self._reconcile(row, results, restored, outcome) for row in stale]
        await asyncio.gather(*tasks)
        if results or restored:
            async with unit_of_work(self.runtime.sessions) as session:
                await repository.record(session, results)
                await set_restoration_hints(session, restored, now=self.clock())
                for address in {r["address"] for r in results
                                if r["new_status"] == NoticeStatus.SKIPPED_OPTED_OUT}:
                    await compliance.record_consent(session, address=address, opted_out=True,
                                                    keyword="PROVIDER")
        for r in results:
            outcome.statuses[r["notice_id"]] = r["new_status"]
        return outcome

    async def _drop_pointless(self, session: AsyncSession, rows: list[NoticeRow],
                              now: datetime, outcome: ChunkOutcome) -> list[NoticeRow]:
        """Send-time checks, set-based: STOP or unsubscribed since planning, and updates a
        newer one superseded (the sender re-checks the version, whatever the planner did)."""
        if not rows:
            return rows
        blocked = await repository.opted_out(session, {r.address for r in rows})
        unsubscribed = await repository.unsubscribed(
            session, [r.contact_id for r in rows if r.contact_id is not None])
        newest = await repository.newest_versions(session, {r.outage_id for r in rows})
        skip = [r.id for r in rows if r.address in blocked or r.contact_id in unsubscribed]
        stale = [r.id for r in rows if r.id not in skip and _superseded(r, newest)]
        outcome.skipped += await repository.mark(
            session, skip, status=NoticeStatus.SKIPPED_OPTED_OUT, now=now,
            expected=[NoticeStatus.QUEUED])
        outcome.superseded += await repository.mark(
            session, stale, status=NoticeStatus.SUPERSEDED, now=now,
            expected=[NoticeStatus.QUEUED])
        dropped = set(skip) | set(stale)
        return [r for r in rows if r.id not in dropped]

    async def _facts(self, session: AsyncSession, outage_ids: set[int]) -> dict[int, OutageFacts]:
        """Each outage as it is now, through merges to the outage that speaks for it."""
        found: dict[int, OutageFacts] = {}
        if not outage_ids:
            return found
        outages = {o.id: o for o in (await session.scalars(
            select(Outage).where(Outage.id.in_(sorted(outage_ids))))).all()}
        for outage_id, outage in outages.items():
            root, seen = outage, {outage.id}
            while root.merged_into_id is not None and root.merged_into_id not in seen:
                parent = await session.get(Outage, root.merged_into_id)
                if parent is None:
                    break
                seen.add(parent.id)
                root = parent
            found[outage_id] = OutageFacts(
                outage_id=root.id, status=root.status, etr=root.etr,
                etr_version=root.etr_version, cause=root.cause,
                customers_affected=root.customers_affected)
        return found

    # -- one notice ------------------------------------------------------------------------

    async def _send(self, row: NoticeRow, facts: dict[int, OutageFacts],
                    results: list[dict[str, Any]], restored: list[RestorationSent],
                    outcome: ChunkOutcome) -> None:
        fact = facts.get(row.outage_id)
        sender = self.senders.get(row.channel)
        if fact is None or sender is None:
            await self._give_up(row, "no_sender" if sender is None else "no_outage", outcome)
            return
        from_ = self.sender_number(row)
        async with self.slots:
            await self._pace(sender, row.channel, from_)
            for _ in range(2):
                body = self._body(row, fact)
                won = await self.claims.claim(repository.Claim(row=row, sender=from_, body=body,
                                                               told=fact.etr_version))
                if won:
                    verdict = "sent"
                    break
                async with unit_of_work(self.runtime.sessions) as session:
                    verdict = await self._why_not(session, row, fact)
                if verdict != "refresh":
                    break
                async with self.runtime.sessions() as session:
                    fact = (await self._facts(session, {row.outage_id}))[row.outage_id]
            if verdict == "superseded":
                outcome.superseded += 1
                return
            if verdict in ("deferred", "refresh"):
                outcome.deferred += 1
                return
            if verdict != "sent":
                return  # someone else has it, or it is final already
            outgoing = Outgoing(message_id=_message_id(row), channel=row.channel,
                                to=row.address, from_=from_, text=body, purpose="notice")
            result = await self._call(sender, row, outgoing, outcome, restored)
        if getattr(sender, "find_sent", None) is not None:
            results.append(result)  # written with the chunk: a crash before is reconciled
            return
        # Nobody can tell later whether this one went (e.g. email): write it now, so the
        # window in which a crash leaves it unknown is the provider call alone.
        hints = [h for h in restored if h.address == row.address]
        async with unit_of_work(self.runtime.sessions) as session:
            await repository.record(session, [result])
            await set_restoration_hints(session, hints, now=self.clock())
        for hint in hints:
            restored.remove(hint)
        outcome.statuses[row.id] = result["new_status"]

    async def _why_not(self, session: AsyncSession, row: NoticeRow, fact: OutageFacts) -> str:
        """The claim lost: taken, final, or held back by a sibling notice (decide what now)."""
        status = await session.scalar(select(Notice.status).where(
            Notice.id == row.id))
        if status != NoticeStatus.QUEUED:
            return "taken"
        siblings = await repository.sibling_state(session, row)
        sent = [(kind, told) for kind, state, told in siblings
                if state in (NoticeStatus.SENT, NoticeStatus.DELIVERED) and told is not None]
        now = self.clock()
        if row.kind == NoticeKind.ETR and any(told >= row.version for _, told in sent):
            await repository.mark(session, [row.id], status=NoticeStatus.SUPERSEDED, now=now,
                                  expected=[NoticeStatus.QUEUED])
            return "superseded"
        if any(told > fact.etr_version for _, told in sent):
            return "refresh"  # our picture of the outage is older than what went out
        await _defer(session, row.id, until=now + DEFER, now=now)
        return "deferred"

    async def _call(self, sender: NoticeSender, row: NoticeRow, outgoing: Outgoing,
                    outcome: ChunkOutcome, restored: list[RestorationSent]) -> dict[str, Any]:
        now = self.clock()
        try:
            async with asyncio.timeout(self.send_timeout):
                receipt: SendReceipt = await sender.send_text(outgoing)
        except TimeoutError:
            return self._unknown(row, "timeout")
        except SendFailed as failure:
            if failure.outcome_unknown:
                return self._unknown(row, failure.code or "unknown")
            if failure.opted_out:
                outcome.skipped += 1
                return _result(row, NoticeStatus.SKIPPED_OPTED_OUT, now, error=failure.code)
            if failure.permanent:
                outcome.failed += 1
                return _result(row, NoticeStatus.FAILED, now, error=failure.code)
            return self._retry(row, now, failure.code, outcome)
        except Exception as exc:  # noqa: BLE001 - e.g. a connection reset after the request left:
            # the provider may have it, so the provider's records decide, never a blind resend
            log.warning("notice %s: send raised %r", row.id, exc)
            return self._unknown(row, type(exc).__name__)
        outcome.sent += 1
        if row.kind == NoticeKind.RESTORATION:
            restored.append(RestorationSent(address=row.address, channel=row.channel,
                                            outage_id=row.outage_id, language=row.language))
        return _result(row, NoticeStatus.SENT, now, provider_id=receipt.external_id)

    def _unknown(self, row: NoticeRow, code: str) -> dict[str, Any]:
        """The provider may have it: leave the row `sending`; once stale, the provider's own
        records decide (`_reconcile`). Recorded as a no-op so the error is still visible."""
        log.warning("notice %s: outcome unknown (%s)", row.id, code)
        return {**_result(row, NoticeStatus.SENDING, self.clock(), error=code)}

    def _retry(self, row: NoticeRow, now: datetime, code: str | None,
               outcome: ChunkOutcome) -> dict[str, Any]:
        attempts = row.attempts + 1
        if attempts >= self.policy.max_attempts:
            outcome.failed += 1
            log.error("notice %s dead after %d attempts (%s)", row.id, attempts, code)
            return _result(row, NoticeStatus.DEAD, now, error=code)
        outcome.retried += 1
        backoff = self.policy.retry_after * (2 ** (attempts - 1))
        return _result(row, NoticeStatus.PENDING, now, error=code, retry_at=now + backoff)

    async def _give_up(self, row: NoticeRow, code: str, outcome: ChunkOutcome) -> None:
        outcome.failed += 1
        async with unit_of_work(self.runtime.sessions) as session:
            await repository.mark(session, [row.id], status=NoticeStatus.FAILED,
                                  now=self.clock(), expected=[NoticeStatus.QUEUED],
                                  error_code=code)

    async def _reconcile(self, row: NoticeRow, results: list[dict[str, Any]],
                         restored: list[RestorationSent], outcome: ChunkOutcome) -> None:
        """A row a dead worker left `sending`: sent already, or never reached the provider?"""
        sender = self.senders.get(row.channel)
        outgoing = Outgoing(message_id=_message_id(row), channel=row.channel, to=row.address,
                            from_=row.sender, text=row.body or "", purpose="notice")
        lookup = getattr(sender, "find_sent", None)
        assert row.claimed_at is not None
        async with self.slots:
            if sender is None or lookup is None or not row.body:
                async with unit_of_work(self.runtime.sessions) as session:
                    await repository.record(session, [_result(
                        row, NoticeStatus.FAILED, self.clock(), error="outcome_unknown")])
                outcome.failed += 1
                return
            found = await lookup(outgoing, since=row.claimed_at - timedelta(seconds=5))
            outcome.reconciled += 1
            if found is not None:
                results.append(_result(row, NoticeStatus.SENT, self.clock(),
                                       provider_id=found.external_id))
                outcome.sent += 1
                if row.kind == NoticeKind.RESTORATION:
                    restored.append(RestorationSent(address=row.address, channel=row.channel,
                                                    outage_id=row.outage_id,
                                                    language=row.language))
                return
            async with unit_of_work(self.runtime.sessions) as session:
                if not await repository.reclaim(session, row, now=self.clock()):
                    return
            await self._pace(sender, row.channel, row.sender or "")
            results.append(await self._call(sender, row, outgoing, outcome, restored))

    # -- helpers ---------------------------------------------------------------------------

    def sender_number(self, row: NoticeRow) -> str:
        """The same number for an address every time (STOP and replies are per number)."""
        if row.channel == "email":
            return self.policy.email_from or ""
        pool = self.policy.sms_from
        if row.channel == "whatsapp":
            pool = tuple(f"whatsapp:{n.removeprefix('whatsapp:')}"
                         for n in (self.policy.whatsapp_from or self.policy.sms_from))
        return pool[zlib.crc32(row.address.encode()) % len(pool)]

    def rate_of(self, sender: NoticeSender, from_: str) -> float:
        if self.policy.mps is not None:
            return self.policy.mps
        rate = getattr(sender, "messages_per_second", None)
        return float(rate(from_)) if rate is not None else DEFAULT_MPS

    async def _pace(self, sender: NoticeSender, channel: str, from_: str) -> None:
        """Bulk takes at most `bulk_share` of a sender number's rate, from a bucket of its
        own with a small burst: the provider's bucket always has room left for replies to
        customers, who never wait behind a bulk send."""
        if channel == "email" or not from_:
            return
        rate = self.rate_of(sender, from_) * self.policy.bulk_share
        await self.limiter.acquire(f"notices:mps:{from_}", rate=rate,
                                   burst=max(1, int(rate / 10)))

    def _body(self, row: NoticeRow, fact: OutageFacts) -> str:
        return render(NoticeKind(row.kind), fact, language=row.language,
                      utility=self.policy.utility_name, timezone=self.policy.timezone)


class ClaimBatcher:
    """Claims from many concurrent sends, written together: while one batch's transaction
    runs, the next batch gathers, so a busy worker claims hundreds of rows per round trip and
    an idle one claims each at once. Each send still claims only after its rate token."""

    def __init__(self, runtime: Runtime, clock: Callable[[], datetime]) -> None:
        self.runtime = runtime
        self.clock = clock
        self.waiting: list[tuple[repository.Claim, asyncio.Future[bool]]] = []
        self.flusher: asyncio.Task[None] | None = None

    async def claim(self, claim: repository.Claim) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.waiting.append((claim, future))
        if self.flusher is None or self.flusher.done():
            self.flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        while self.waiting:
            batch, self.waiting = self.waiting, []
            try:
                async with unit_of_work(self.runtime.sessions) as session:
                    won = await repository.claim_many(session, [c for c, _ in batch],
                                                      now=self.clock())
            except Exception as exc:  # noqa: BLE001 - each waiting send gets the error
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for claim, future in batch:
                if not future.done():
                    future.set_result(claim.row.id in won)


def _message_id(row: NoticeRow) -> int:
    """What the sender may call the message: the notice id for notice senders (their status
    callbacks carry it back), but 0 for the email channel's sender, which reads it as a
    conversation message id to thread the mail (a notice starts no thread)."""
    return 0 if row.channel == "email" else row.id


def _superseded(row: NoticeRow, newest: dict[tuple[int, str], int]) -> bool:
    if (row.outage_id, NoticeKind.RESTORATION.value) in newest:
        return row.kind != NoticeKind.RESTORATION
    if row.kind == NoticeKind.ETR:
        return newest.get((row.outage_id, NoticeKind.ETR.value), row.version) > row.version
    return False


def _result(row: NoticeRow, status: NoticeStatus, now: datetime, *, provider_id: str | None = None,
            error: str | None = None, retry_at: datetime | None = None) -> dict[str, Any]:
    return {"notice_id": row.id, "new_status": status.value, "provider_id": provider_id,
            "error": (error or None) and error[:32],
            "sent_at": now if status == NoticeStatus.SENT else None, "at": now,
            "retry_at": retry_at or now, "address": row.address}


async def _defer(session: AsyncSession, notice_id: int, *, until: datetime, now: datetime) -> None:
    await session.execute(
        update(Notice)
        .where(Notice.id == notice_id,
               Notice.status == NoticeStatus.QUEUED.value)
        .values(status=NoticeStatus.PENDING.value, not_before=until, status_at=now)
        .execution_options(synchronize_session=False))
