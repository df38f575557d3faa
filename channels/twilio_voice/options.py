"""Knobs of the phone line: STORMDESK_VOICE_* variables, or the composition root's own
`runtime.extras["twilio_voice_options"]` (as for SMS, channels/twilio_sms/options.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict

PREFIX = "/channels/twilio/voice"
CALL_PATH = PREFIX  # configured on the Twilio number: "A call comes in"
TURN_PATH = f"{PREFIX}/turn"  # every <Gather action>
PAY_PATH = f"{PREFIX}/pay"  # the <Pay action>
QUEUE_WAIT_PATH = f"{PREFIX}/queue/wait"  # the <Enqueue waitUrl>
QUEUE_CHOICE_PATH = f"{PREFIX}/queue/choice"  # the keypad choice while on hold
QUEUE_EXIT_PATH = f"{PREFIX}/queue/exit"  # the <Enqueue action>
STATUS_PATH = f"{PREFIX}/status"  # configured on the number: "Call status changes"
HOLD_MUSIC_PATH = f"{PREFIX}/hold-music.wav"


@dataclass(frozen=True, slots=True)
class Speaker:
    """How one language is spoken and heard: the <Say> voice and the BCP-47 tag that both
    <Say> and <Gather> (speech recognition) take."""

    voice: str
    language: str
    # Words callers are likely to say: Twilio's recognizer favors them (<Gather hints>).
    hints: str = ""


DEFAULT_SPEAKERS: dict[str, Speaker] = {
    "en": Speaker("Polly.Joanna", "en-US",
                  "power outage, outage status, balance, pay my bill, payment plan, agent, "
                  "representative, downed wire, gas smell, yes, no"),
    "es": Speaker("Polly.Lupe", "es-US",
                  "apagón, sin luz, estado, saldo, pagar, plan de pagos, agente, persona, "
                  "cable caído, olor a gas, sí, no"),
}


@dataclass(frozen=True, slots=True)
class TwilioVoiceOptions:
    # How long a turn's webhook waits for the bot before answering "one moment" and
    # redirecting to itself. Twilio hangs up on a voice webhook after 15 s; the caller hears
    # silence meanwhile, so this is well under that.
    inline_budget_s: float = 8.0
    speakers: dict[str, Speaker] = field(default_factory=lambda: dict(DEFAULT_SPEAKERS))
    # <Gather> tuning. speechTimeout="auto" ends the utterance at a natural pause, but Twilio
    # refuses it with the default speech model (warning 13335), hence "phone_call".
    speech_model: str = "phone_call"
    speech_timeout: str = "auto"
    # Seconds of silence before the caller's turn counts as "no input".
    gather_timeout_s: int = 6
    # A speech result below this confidence (0..1) is treated as no-match, like silence.
    min_confidence: float = 0.2
    # Twilio <Pay> connector name (Console → Voice → Pay Connectors). Unset: card payments go
    # by a payment link texted to the caller instead.
    pay_connector: str | None = None
    pay_currency: str = "usd"
    # Number the payment-link text is sent from; unset: the number the caller dialed.
    sms_from: str | None = None
    # Hold music: a URL of the utility's own, or the generated tune served by this app.
    hold_music_url: str | None = None
    # Callers above this many in one Twilio queue get a callback instead (Twilio's default
    # queue size is 100; a full queue is how a phone line fails in a storm).
    max_queue_size: int = 200
    queue_prefix: str = "stormdesk"
    region: str = "US"
    # DTMF shortcuts on a phone line: 0 for a person (as on every IVR).
    agent_digit: str = "0"
    # At the greeting only: switch between English and Spanish.
    language_digit: str = "9"


class VoiceSettings(BaseSettings):
    """STORMDESK_VOICE_* variables (kept beside the channel until core/config.py takes them,
    as core/storm/policy.py does for storm mode)."""

    model_config = SettingsConfigDict(env_prefix="STORMDESK_VOICE_", extra="ignore")

    pay_connector: str | None = None
    pay_currency: str = "usd"
    sms_from: str | None = None
    hold_music_url: str | None = None
    inline_budget_s: float = 8.0
    min_confidence: float = 0.2
    max_queue_size: int = 200


@lru_cache(maxsize=1)
def options_from_env() -> TwilioVoiceOptions:
    return TwilioVoiceOptions(**VoiceSettings().model_dump())


def voice_options(runtime: Any) -> TwilioVoiceOptions:
    return runtime.extras.get("twilio_voice_options") or options_from_env()


def speaker_for(options: TwilioVoiceOptions, language: str | None) -> Speaker:
    return options.speakers.get((language or "en")[:2]) or options.speakers["en"]
