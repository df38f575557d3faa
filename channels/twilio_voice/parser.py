"""Twilio's voice webhook form → what the caller said or keyed, and the InboundMessage it
becomes in the conversation pipeline.

Every voice request carries CallSid, AccountSid, From, To, CallStatus and Direction (plus
Caller/Called and geography). A <Gather> action adds `SpeechResult` with `Confidence` for
speech, or `Digits` for the keypad; with actionOnEmptyResult it adds neither when the caller
said nothing. Caller ID can be withheld ("anonymous", "Restricted", "+266696687").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from channels.twilio_voice.steps import Step
from core.conversations.schemas import InboundMessage
from core.errors import Invalid
from core.phones import to_e164

ANONYMOUS = "anonymous:"
# What carriers show when the caller withheld their number (266696687 spells "ANONYMOUS").
_WITHHELD = {"", "anonymous", "restricted", "private", "unknown", "unavailable", "+266696687"}


@dataclass(frozen=True, slots=True)
class CallerInput:
    """One turn's input: `text` for the pipeline, or nothing (silence / no-match)."""

    text: str = ""
    via: str = "none"  # speech | dtmf | none
    confidence: float | None = None
    no_match: bool = False

    @property
    def heard(self) -> bool:
        return bool(self.text) and not self.no_match


def caller_address(raw: Mapping[str, str], *, region: str = "US") -> str:
    """The caller's E.164 number (their identity and where texts go), or a per-call
    anonymous address: a withheld number must never merge strangers into one conversation."""
    sender = (raw.get("From") or "").strip()
    if sender.lower() not in _WITHHELD and not sender.lower().startswith("sip:"):
        try:
            return to_e164(sender, region)
        except Invalid:
            pass
    return ANONYMOUS + (raw.get("CallSid") or "unknown")


def call_sid(raw: Mapping[str, str]) -> str:
    sid = (raw.get("CallSid") or "").strip()
    if not sid.startswith("CA") or len(sid) > 40:
        raise Invalid("a Twilio voice request needs its CallSid")
    return sid


def caller_input(raw: Mapping[str, str], *, min_confidence: float,
                 agent_digit: str = "0") -> CallerInput:
    digits = (raw.get("Digits") or "").strip()
    if digits:
        # A lone agent digit is the universal "a person, please"; the bot reads words.
        return CallerInput(text="agent" if digits == agent_digit else digits, via="dtmf")
    speech = (raw.get("SpeechResult") or "").strip()
    if not speech:
        return CallerInput()
    confidence = _confidence(raw.get("Confidence"))
    # Twilio scores speech 0..1; a missing or unparseable score is not held against the
    # caller (DTMF never has one, and not every speech model reports it).
    low = confidence is not None and confidence < min_confidence
    return CallerInput(text=speech, via="speech", confidence=confidence,
                       no_match=low)


def _confidence(raw: str | None) -> float | None:
    try:
        return float(raw) if raw not in (None, "") else None
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class VoiceTurn:
    """What the parser reads: the webhook form, the step it answers, the caller's words."""

    form: Mapping[str, str]
    step: Step
    text: str


class TwilioVoiceParser:
    """The InboundParser (channels/base.py) for one turn of a call: keyed by CallSid and step,
    so Twilio delivering the same step twice stores one message."""

    def __init__(self, *, region: str = "US") -> None:
        self._region = region

    def parse(self, raw: VoiceTurn) -> InboundMessage:
        recipient = (raw.form.get("To") or "").strip()
        if not recipient:
            raise Invalid("a Twilio voice request needs To")
        return InboundMessage(channel="voice",
                              external_id=raw.step.external_id(call_sid(raw.form)),
                              sender=caller_address(raw.form, region=self._region),
                              recipient=recipient, text=raw.text)
