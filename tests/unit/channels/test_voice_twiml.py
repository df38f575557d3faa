"""The phone line's TwiML documents as Twilio reads them, the generated hold music, its
options and the sender for written replies."""

from __future__ import annotations

import io
import wave
import xml.etree.ElementTree as ET

import pytest
from messaging_helpers import CollectingSender
from twilio.twiml.voice_response import VoiceResponse

from channels.twilio_voice import twiml
from channels.twilio_voice.hold_music import hold_music_wav
from channels.twilio_voice.options import TwilioVoiceOptions, options_from_env
from channels.twilio_voice.sender import VoiceTextFallback
from channels.twilio_voice.twiml import Line
from core.conversations.schemas import Outgoing, SendFailed

OPTIONS = TwilioVoiceOptions()
ACTION = "https://stormdesk.example.org/channels/twilio/voice/turn?n=2&q=0&l=en&s=0"


def parse(response: VoiceResponse) -> ET.Element:
    return ET.fromstring(str(response))


def test_ask_listens_for_speech_and_keys_and_always_comes_back() -> None:
    root = parse(twiml.ask(VoiceResponse(), [Line("Is it out? Say yes & no.", "en"),
                                             Line("Para español, oprima nueve.", "es")],
                           action=ACTION, language="en", options=OPTIONS))
    gather, redirect = list(root)
    assert gather.attrib == {
        "input": "speech dtmf", "action": ACTION, "method": "POST", "language": "en-US",
        "hints": OPTIONS.speakers["en"].hints, "speechModel": "phone_call",
        "speechTimeout": "auto", "timeout": "6", "actionOnEmptyResult": "true"}
    english, spanish = gather.findall("Say")
    assert english.text == "Is it out? Say yes & no."  # escaped on the wire, intact here
    assert (english.get("voice"), spanish.get("voice")) == ("Polly.Joanna", "Polly.Lupe")
    assert (redirect.tag, redirect.text, redirect.get("method")) == ("Redirect", ACTION, "POST")


def test_single_key_questions_post_on_one_press() -> None:
    root = parse(twiml.ask(VoiceResponse(), [], action=ACTION, language="es", options=OPTIONS,
                           single_key=True))
    gather = root.find("Gather")
    assert gather is not None
    assert (gather.get("numDigits"), gather.get("language")) == ("1", "es-US")


def test_blank_lines_are_not_spoken() -> None:
    root = parse(twiml.goodbye(VoiceResponse(), [Line("", "en"), Line("Bye.", "en")],
                               OPTIONS))
    assert [(c.tag, c.text) for c in root] == [("Say", "Bye."), ("Hangup", None)]


def test_enqueue_waits_with_our_music_and_reports_back() -> None:
    root = parse(twiml.enqueue(VoiceResponse(), queue="stormdesk-outage",
                               action="https://h/exit", wait_url="https://h/wait",
                               options=OPTIONS))
    enqueue = root.find("Enqueue")
    assert enqueue is not None and enqueue.text == "stormdesk-outage"
    assert enqueue.attrib == {"action": "https://h/exit", "method": "POST",
                              "waitUrl": "https://h/wait", "waitUrlMethod": "POST",
                              "maxQueueSize": "200"}


def test_hold_offers_a_key_only_when_there_is_a_choice() -> None:
    lines = [Line("You are number 2 in line.", "en")]
    offered = parse(twiml.hold(VoiceResponse(), lines, music_url="https://h/m.wav",
                               choice_action="https://h/choice", language="en",
                               options=OPTIONS))
    gather = offered.find("Gather")
    assert gather is not None and gather.get("numDigits") == "1"
    assert [c.tag for c in gather] == ["Say", "Play"]
    plain = parse(twiml.hold(VoiceResponse(), lines, music_url="https://h/m.wav",
                             choice_action=None, language="en", options=OPTIONS))
    assert [c.tag for c in plain] == ["Say", "Play"]


def test_pay_charges_the_amount_through_the_connector() -> None:
    options = TwilioVoiceOptions(pay_connector="Stripe_Connector")
    root = parse(twiml.pay(VoiceResponse(), action="https://h/pay?m=1&link=2",
                           amount_cents=12345, language="es", description="Riverbend bill",
                           options=options))
    pay = root.find("Pay")
    assert pay is not None
    assert (pay.get("chargeAmount"), pay.get("currency"), pay.get("paymentConnector"),
            pay.get("language"), pay.get("input")) == (
        "123.45", "usd", "Stripe_Connector", "es-US", "dtmf")


def test_pay_is_never_built_without_a_connector() -> None:
    with pytest.raises(AssertionError):
        twiml.pay(VoiceResponse(), action="https://h/pay", amount_cents=100, language="en",
                  description="bill", options=OPTIONS)


def test_hold_music_is_phone_quality_pcm() -> None:
    with wave.open(io.BytesIO(hold_music_wav())) as audio:
        assert (audio.getnchannels(), audio.getsampwidth(), audio.getframerate()) == (
            1, 2, 8000)
        assert 15 < audio.getnframes() / audio.getframerate() < 60


def test_options_come_from_stormdesk_voice_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORMDESK_VOICE_PAY_CONNECTOR", "Stripe_Connector")
    monkeypatch.setenv("STORMDESK_VOICE_INLINE_BUDGET_S", "5")
    options_from_env.cache_clear()
    try:
        options = options_from_env()
        assert (options.pay_connector, options.inline_budget_s) == ("Stripe_Connector", 5.0)
    finally:
        options_from_env.cache_clear()


async def test_written_replies_to_a_caller_go_as_texts_to_their_number() -> None:
    sms = CollectingSender()
    sender = VoiceTextFallback(sms)
    receipt = await sender.send_text(Outgoing(message_id=7, channel="voice", to="+14055550101",
                                              from_="+15045550100", text="Calling you now."))
    assert receipt.external_id and [(o.channel, o.to, o.text) for o in sms.sent] == [
        ("sms", "+14055550101", "Calling you now.")]
    with pytest.raises(SendFailed) as refused:
        await sender.send_text(Outgoing(message_id=8, channel="voice", to="anonymous:CA1",
                                        from_=None, text="Hello?"))
    assert refused.value.permanent and not sms.sent[1:]
