"""TwiML for the phone line, built by the twilio package (it escapes what the bot says).

Twilio quirks that shape every document here:
- A <Gather> that hears nothing falls through to the next verb; `actionOnEmptyResult` makes
  it post to its action anyway, so silence reaches our step logic like any other input. The
  <Redirect> after each <Gather> is the same step again, for the case it still falls through.
- Prompts sit inside the <Gather> so a caller can answer (or key) before the prompt ends.
- `numDigits=1` on yes/no and numbered questions: one key press posts at once, instead of
  waiting for # or the timeout. Longer numbers end with # (Twilio strips it from Digits).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from fastapi import Response
from twilio.twiml.voice_response import Gather, VoiceResponse

from channels.twilio_voice.options import TwilioVoiceOptions, speaker_for
from core.money import from_cents

TWIML = "application/xml"


@dataclass(frozen=True, slots=True)
class Line:
    """Something to say, and the language to say it in (a Spanish offer inside an English
    greeting is spoken by the Spanish voice)."""

    text: str
    language: str


def as_http(response: VoiceResponse) -> Response:
    return Response(content=str(response), media_type=TWIML)


def say(parent: VoiceResponse | Gather, line: Line, options: TwilioVoiceOptions) -> None:
    speaker = speaker_for(options, line.language)
    parent.say(line.text, voice=speaker.voice, language=speaker.language)


def say_all(parent: VoiceResponse | Gather, lines: Iterable[Line],
            options: TwilioVoiceOptions) -> None:
    for line in lines:
        if line.text.strip():
            say(parent, line, options)


def ask(response: VoiceResponse, lines: Iterable[Line], *, action: str, language: str,
        options: TwilioVoiceOptions, single_key: bool = False) -> VoiceResponse:
    """Say the lines and listen for speech or keys; the answer (or silence) posts to action."""
    speaker = speaker_for(options, language)
    gather = response.gather(
        input="speech dtmf", action=action, method="POST", language=speaker.language,
        hints=speaker.hints or None, speech_model=options.speech_model,
        speech_timeout=options.speech_timeout, timeout=options.gather_timeout_s,
        num_digits=1 if single_key else None, action_on_empty_result=True)
    say_all(gather, lines, options)
    response.redirect(action, method="POST")
    return response


def enqueue(response: VoiceResponse, *, queue: str, action: str, wait_url: str,
            options: TwilioVoiceOptions) -> VoiceResponse:
    """Into the Twilio queue an agent dequeues from; waitUrl plays while the caller waits."""
    response.enqueue(queue[:64], action=action, method="POST", wait_url=wait_url,
                     wait_url_method="POST", max_queue_size=options.max_queue_size)
    return response


def pay(response: VoiceResponse, *, action: str, amount_cents: int, language: str,
        description: str, options: TwilioVoiceOptions) -> VoiceResponse:
    """Twilio <Pay>: the caller keys the card; Twilio hands it to the payment connector.
    The digits never reach this app, its logs or its database (PCI DSS scope stays Twilio's)."""
    assert options.pay_connector, "only offered when a pay connector is configured"
    speaker = speaker_for(options, language)
    response.pay(input="dtmf", action=action, payment_connector=options.pay_connector,
                 charge_amount=f"{from_cents(amount_cents):.2f}", currency=options.pay_currency,
                 description=description[:255], language=speaker.language, max_attempts=3,
                 timeout=8)
    return response


def hold(response: VoiceResponse, lines: Iterable[Line], *, music_url: str,
         choice_action: str | None, language: str,
         options: TwilioVoiceOptions) -> VoiceResponse:
    """What a caller in the queue hears (the waitUrl document). When it ends Twilio fetches
    it again, so the position is re-announced after each pass of the music. With a
    `choice_action`, one key press during it posts there (the callback offer)."""
    if choice_action is None:
        say_all(response, lines, options)
        response.play(music_url)
        return response
    gather = response.gather(input="dtmf", num_digits=1, action=choice_action, method="POST",
                             timeout=1, language=speaker_for(options, language).language)
    say_all(gather, lines, options)
    gather.play(music_url)
    return response


def goodbye(response: VoiceResponse, lines: Iterable[Line],
            options: TwilioVoiceOptions) -> VoiceResponse:
    say_all(response, lines, options)
    response.hangup()
    return response
