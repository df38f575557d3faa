"""When storm mode switches itself, and what it changes. Supervisors can always switch it by
hand; automatic switching uses hysteresis so a rate hovering at the threshold does not flap:
on as soon as reports per minute reach `on_rpm`, off only after the rate stayed at or below
`off_rpm` for `calm_for` (and only if it was switched on automatically)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from pydantic_settings import BaseSettings, SettingsConfigDict

# Message purposes that wait while the storm lasts (a disconnect warning to someone sitting
# in the dark is cruel, and the carrier capacity is needed for outage notices).
PAUSED_PURPOSES = frozenset({"collections", "billing"})


class StormSettings(BaseSettings):
    """STORMDESK_STORM_* variables (kept beside the domain until core/config.py takes them)."""

    model_config = SettingsConfigDict(env_prefix="STORMDESK_STORM_", extra="ignore")

    on_rpm: float = 50.0
    off_rpm: float = 10.0
    calm_minutes: float = 30.0
    evaluate_every_s: float = 15.0
    cache_ttl_s: float = 2.0
    picture_ttl_s: float = 5.0


@dataclass(frozen=True, slots=True)
class StormPolicy:
    on_rpm: float = 50.0
    off_rpm: float = 10.0
    calm_for: timedelta = timedelta(minutes=30)
    evaluate_every_s: float = 15.0
    cache_ttl_s: float = 2.0
    picture_ttl_s: float = 5.0

    def __post_init__(self) -> None:
        if self.off_rpm >= self.on_rpm:
            raise ValueError("off_rpm must be below on_rpm (that gap is the hysteresis)")

    @classmethod
    def from_env(cls, settings: StormSettings | None = None) -> StormPolicy:
        s = settings or StormSettings()
        return cls(on_rpm=s.on_rpm, off_rpm=s.off_rpm, calm_for=timedelta(minutes=s.calm_minutes),
                   evaluate_every_s=s.evaluate_every_s, cache_ttl_s=s.cache_ttl_s,
                   picture_ttl_s=s.picture_ttl_s)


def storm_greeting(*, utility: str, utility_phone: str, language: str = "en") -> str:
    """The built-in storm message (the phone line says it first; the bot greets with it)."""
    if language.startswith("es"):
        return (f"{utility}: estamos atendiendo una tormenta fuerte. Para reportar un corte, "
                f"envíe OUT por texto. Si ve un cable caído, aléjese y llame al 911.")
    return (f"{utility}: we are responding to a major storm. To report an outage, text OUT "
            f"or stay on the line. If you see a downed wire, stay away and call 911. "
            f"Outage updates: text STAT to {utility_phone}.")
