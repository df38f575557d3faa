"""Notice rules in one place: when an outage update is worth a message, and when it may go.

Decisions (documented in the storm issue note):
- The initial alert goes when an outage becomes *probable* (a prediction that stood
  `probable_after`, 15 min by default) or is *confirmed* by operations (crew assigned counts),
  whichever comes first; a bare prediction, which cancelled reports may still withdraw, does
  not text 10,000 people. `initial_on` changes it.
- An ETR change is told only when it moves by more than `etr_min_change` against the ETR the
  customers last heard (and only after an initial alert went out: before that, the initial
  alert carries the ETR). A cleared ETR is not announced.
- Initial and restoration notices are urgent (any hour: people are sitting in the dark).
  ETR updates are not: inside quiet hours they wait until quiet hours end, and a newer ETR or
  the restoration supersedes them meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic_settings import BaseSettings, SettingsConfigDict

from core.config import Settings
from core.notifications.models import NoticeKind

URGENT_KINDS = frozenset({NoticeKind.INITIAL, NoticeKind.RESTORATION})


class NoticeSettings(BaseSettings):
    """STORMDESK_NOTICE_* variables (kept beside the domain until core/config.py takes them)."""

    model_config = SettingsConfigDict(env_prefix="STORMDESK_NOTICE_", extra="ignore")

    initial_on: str = "probable,confirmed"
    etr_min_change_minutes: float = 30.0
    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)
    # Sender numbers for SMS notices (several long codes, or one short code); empty: the
    # utility's number. Each address always gets the same one of them (STOP is per number).
    sms_from: str = ""
    whatsapp_from: str = ""
    # Messages per second per sender number; unset: the provider adapter's own table.
    mps: float | None = None
    # Bulk may use this share of each sender's rate; the rest stays free for replies.
    bulk_share: float = 0.8
    max_attempts: int = 5
    retry_after_s: float = 30.0
    chunk_size: int = 50
    queue_high_water: int = 5000
    stale_claim_s: float = 60.0
    in_flight: int = 128


@dataclass(frozen=True, slots=True)
class NoticePolicy:
    initial_on: frozenset[str] = frozenset({"probable", "confirmed", "crew_assigned"})
    etr_min_change: timedelta = timedelta(minutes=30)
    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)
    timezone: str = "America/Chicago"
    sms_from: tuple[str, ...] = ("+15555550100",)
    whatsapp_from: tuple[str, ...] = ()
    email_from: str | None = None
    mps: float | None = None
    bulk_share: float = 0.8
    max_attempts: int = 5
    retry_after: timedelta = timedelta(seconds=30)
    chunk_size: int = 50
    queue_high_water: int = 5000
    stale_claim: timedelta = timedelta(seconds=60)
    in_flight: int = 128
    utility_name: str = "Riverbend Public Utilities"
    utility_phone: str = "+15555550100"
    urgent_kinds: frozenset[NoticeKind] = field(default=URGENT_KINDS)

    def __post_init__(self) -> None:
        if not 0 < self.bulk_share <= 1:
            raise ValueError("bulk_share must be in (0, 1]")
        if self.chunk_size < 1 or self.in_flight < 1 or self.max_attempts < 1:
            raise ValueError("chunk_size, in_flight and max_attempts must be at least 1")

    @classmethod
    def from_settings(cls, settings: Settings, notices: NoticeSettings | None = None
                      ) -> NoticePolicy:
        n = notices or NoticeSettings()
        initial = {s.strip() for s in n.initial_on.split(",") if s.strip()}
        if "confirmed" in initial:
            initial.add("crew_assigned")  # a crew on it confirms the outage
        return cls(
            initial_on=frozenset(initial),
            etr_min_change=timedelta(minutes=n.etr_min_change_minutes),
            quiet_start=n.quiet_start, quiet_end=n.quiet_end,
            timezone=settings.utility_timezone,
            sms_from=_numbers(n.sms_from) or (settings.utility_phone,),
            whatsapp_from=_numbers(n.whatsapp_from),
            email_from=settings.email_address,
            mps=n.mps, bulk_share=n.bulk_share, max_attempts=n.max_attempts,
            retry_after=timedelta(seconds=n.retry_after_s), chunk_size=n.chunk_size,
            queue_high_water=n.queue_high_water, stale_claim=timedelta(seconds=n.stale_claim_s),
            in_flight=n.in_flight, utility_name=settings.utility_name,
            utility_phone=settings.utility_phone,
        )

    def is_urgent(self, kind: NoticeKind) -> bool:
        return kind in self.urgent_kinds

    def etr_worth_telling(self, told: datetime | None, new: datetime | None) -> bool:
        """Only a real move: unknown → known, or a shift larger than `etr_min_change`."""
        if new is None:
            return False
        return told is None or abs(new - told) > self.etr_min_change

    def not_before(self, kind: NoticeKind, now: datetime) -> datetime:
        """When a notice of this kind planned now may go: now, or the end of quiet hours."""
        if self.is_urgent(kind):
            return now
        return quiet_hours_end(now, start=self.quiet_start, end=self.quiet_end,
                               timezone=self.timezone) or now


def quiet_hours_end(now: datetime, *, start: time, end: time, timezone: str) -> datetime | None:
    """The UTC instant quiet hours end if `now` is inside them (local time), else None.

    Quiet hours may wrap midnight (21:00–08:00) or not (13:00–14:00)."""
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    wraps = start > end
    inside = (clock >= start or clock < end) if wraps else (start <= clock < end)
    if not inside or start == end:
        return None
    day = local.date()
    if wraps and clock >= start:
        day += timedelta(days=1)
    release = datetime.combine(day, end, tzinfo=zone)
    return release.astimezone(now.tzinfo)


def _numbers(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())
