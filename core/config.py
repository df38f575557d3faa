"""One settings object for the whole process (STYLE 9): no os.getenv anywhere else."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.errors import Invalid
from core.phones import is_short_code, to_e164

DEV_SECRET = "dev-only-not-secret-change-me"
DEFAULT_SQLITE_PATH = Path("var/stormdesk.db")


class Settings(BaseSettings):
    """Ecosystem variables keep their usual names; the project's own use the STORMDESK_ prefix."""

    model_config = SettingsConfigDict(env_prefix="STORMDESK_", extra="ignore", populate_by_name=True)

    env: Literal["development", "test", "production"] = "development"
    database_url: str | None = Field(default=None, validation_alias=AliasChoices("DATABASE_URL"))
    redis_url: str | None = Field(default=None, validation_alias=AliasChoices("REDIS_URL"))
    twilio_account_sid: str | None = Field(
        default=None, validation_alias=AliasChoices("TWILIO_ACCOUNT_SID")
    )
    twilio_auth_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("TWILIO_AUTH_TOKEN")
    )
    twilio_api_base: str | None = Field(
        default=None, validation_alias=AliasChoices("TWILIO_API_BASE", "STORMDESK_TWILIO_API_BASE")
    )
    rasa_url: str | None = Field(default=None, validation_alias=AliasChoices("RASA_URL"))
    public_base_url: str = Field(
        default="http://127.0.0.1:8000", validation_alias=AliasChoices("PUBLIC_BASE_URL")
    )

    secret_key: SecretStr = SecretStr(DEV_SECRET)
    sqlite_path: Path = DEFAULT_SQLITE_PATH
    utility_name: str = "Riverbend Public Utilities"
    utility_phone: str = "+15555550100"
    utility_timezone: str = "America/Chicago"
    default_region: str = "US"
    log_level: str = "INFO"
    # How long the SMS webhook waits for the bot's reply to answer inline as TwiML (else
    # the reply goes by the REST API); 0 sends every reply by REST.
    sms_inline_budget_s: float = Field(default=2.0, ge=0.0, le=10.0)
    # Messages an API process handles itself while it has room, instead of queueing them for
    # a worker (core/conversations/direct.py); 0 queues every one.
    direct_slots: int = Field(default=8, ge=0, le=64)
    # How long a message waits for one of those slots before it is queued for a worker.
    direct_wait_s: float = Field(default=0.5, ge=0.0, le=10.0)
    # Messages per second for sender numbers whose Twilio limit differs from their kind's
    # default (integrations/twilio/pacing.py: long code 1, toll-free 3, short code 100,
    # WhatsApp 80), as "+18005550100=30,12345=300". Shared by replies and storm notices.
    twilio_mps: Annotated[dict[str, float], NoDecode] = Field(default_factory=dict)
    log_json: bool = True
    # A folder of <lang>.yml files whose keys override the built-in bot replies.
    templates_dir: Path | None = None

    # Email channel (channels/email). Our address is where customers write and replies come
    # from; inbound mail for its domain is accepted. SendGrid Inbound Parse posts with these
    # basic-auth credentials (unset: the endpoint refuses everything). The SMTP listener is
    # the embedded alternative (unset `email_smtp_listen`: on only in embedded development).
    email_address: str = "help@riverbend.example"
    email_inbound_user: str | None = None
    email_inbound_password: SecretStr | None = None
    email_smtp_listen: bool | None = None
    email_smtp_host: str = "127.0.0.1"
    email_smtp_port: int = 2525
    email_max_message_bytes: int = 25 * 1024 * 1024
    email_max_attachment_bytes: int = 10 * 1024 * 1024
    email_store_dir: Path = Path("var/email")
    # Outbound: SendGrid when SENDGRID_API_KEY is set, else SMTP when a host is, else sandbox.
    sendgrid_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SENDGRID_API_KEY")
    )
    sendgrid_api_base: str = "https://api.sendgrid.com"
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None

    # Shared secret of the outside outage management system's signed webhook (unset: disabled).
    oms_webhook_secret: SecretStr | None = None

    # Per-utility financial controls (DOMAIN.md "internal controls").
    agent_adjustment_limit: Decimal = Decimal("100.00")
    supervisor_adjustment_limit: Decimal = Decimal("1000.00")

    @field_validator("twilio_mps", mode="before")
    @classmethod
    def _parse_sender_rates(cls, value: Any) -> Any:
        return parse_sender_rates(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _refuse_default_secret_in_production(self) -> Settings:
        if self.env == "production" and self.secret_key.get_secret_value() == DEV_SECRET:
            raise ValueError("STORMDESK_SECRET_KEY must be set to a real secret in production")
        if self.env == "production" and self.database_url is None:
            raise ValueError("DATABASE_URL must be set in production")
        return self

    @property
    def effective_database_url(self) -> str:
        """Unset DATABASE_URL means the embedded SQLite file."""
        if self.database_url:
            return normalize_database_url(self.database_url)
        return f"sqlite+aiosqlite:///{self.sqlite_path}"

    @property
    def embedded(self) -> bool:
        return self.redis_url is None


def normalize_database_url(url: str) -> str:
    """Accept the plain URLs operators paste (postgres://, postgresql://) and pick the async driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix):]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///"):]
    return url


@lru_cache
def get_settings() -> Settings:
    return Settings()


MAX_SENDER_MPS = 10_000.0  # far above any Twilio sender; a typo like 3000000 is refused


def parse_sender_rates(text: str) -> dict[str, float]:
    """"+18005550100=30, 12345=300, whatsapp:+15045550100=80" → {sender: messages/s}. Numbers
    are stored as the sender sends from (E.164, the short code, or whatsapp:E.164); anything
    else is refused with the offending entry named, so a bad value stops the start-up."""
    rates: dict[str, float] = {}
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        sender, sep, rate_text = entry.rpartition("=")
        sender = sender.strip()
        try:
            rate = float(rate_text)
        except ValueError:
            rate = float("nan")
        if not sep or not sender or not 0 < rate <= MAX_SENDER_MPS:
            raise ValueError(f"STORMDESK_TWILIO_MPS: {entry!r} is not NUMBER=RATE with a rate "
                             f"above 0 and at most {MAX_SENDER_MPS:,.0f}")
        if is_short_code(sender):
            key = sender
        else:
            try:
                e164 = to_e164(sender)
            except Invalid as exc:
                raise ValueError(f"STORMDESK_TWILIO_MPS: {exc}") from exc
            key = f"whatsapp:{e164}" if sender.startswith("whatsapp:") else e164
        rates[key] = rate
    return rates
