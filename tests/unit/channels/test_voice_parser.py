"""Twilio voice forms → the caller's input and the pipeline's InboundMessage; the step in the
URL that makes a retry recognizable."""

from __future__ import annotations

import pytest

from channels.twilio_voice.parser import (
    CallerInput,
    TwilioVoiceParser,
    VoiceTurn,
    caller_address,
    caller_input,
)
from channels.twilio_voice.steps import Step, absolute
from core.errors import Invalid

CALL_SID = "CA" + "ab" * 16


def form(**fields: str) -> dict[str, str]:
    return {"CallSid": CALL_SID, "From": "+14055550101", "To": "+15045550100",
            "CallStatus": "in-progress", "Direction": "inbound", **fields}


def heard(**fields: str) -> CallerInput:
    return caller_input(form(**fields), min_confidence=0.2)


def test_speech_with_its_confidence() -> None:
    said = heard(SpeechResult="My power is out.", Confidence="0.913")
    assert (said.text, said.via, said.confidence, said.heard) == (
        "My power is out.", "speech", 0.913, True)


def test_digits_win_over_speech_and_zero_means_a_person() -> None:
    assert heard(Digits="100000015", SpeechResult="one").text == "100000015"
    assert heard(Digits="100000015").via == "dtmf"
    assert heard(Digits="0").text == "agent"


def test_silence_and_unsure_speech_are_not_heard() -> None:
    assert not heard().heard and heard().via == "none"
    assert not heard(SpeechResult="  ").heard
    unsure = heard(SpeechResult="uh", Confidence="0.05")
    assert unsure.no_match and not unsure.heard
    # No score (or an unreadable one) is not held against the caller.
    assert heard(SpeechResult="Agent.").heard
    assert heard(SpeechResult="Agent.", Confidence="n/a").heard


@pytest.mark.parametrize("number", ["anonymous", "Restricted", "+266696687", "",
                                    "sip:alice@example.com", "not a number"])
def test_a_withheld_number_is_an_address_of_this_call_only(number: str) -> None:
    assert caller_address(form(From=number)) == f"anonymous:{CALL_SID}"


def test_caller_id_is_normalized_to_e164() -> None:
    assert caller_address(form(From="(405) 555-0101")) == "+14055550101"


def test_each_step_is_its_own_idempotency_key() -> None:
    parser = TwilioVoiceParser()
    first = parser.parse(VoiceTurn(form=form(), step=Step(number=3), text="yes"))
    again = parser.parse(VoiceTurn(form=form(), step=Step(number=3, quiet=1), text="no"))
    later = parser.parse(VoiceTurn(form=form(), step=Step(number=4), text="yes"))
    assert first.external_id == again.external_id == f"{CALL_SID}:3"
    assert later.external_id != first.external_id
    assert (first.channel, first.sender, first.recipient, first.sender_phone) == (
        "voice", "+14055550101", "+15045550100", "+14055550101")


def test_a_request_without_a_call_sid_is_refused() -> None:
    with pytest.raises(Invalid):
        TwilioVoiceParser().parse(VoiceTurn(form=form(CallSid=""), step=Step(), text="hi"))


def test_step_round_trips_through_the_url() -> None:
    step = Step(number=7, quiet=1, language="es", served=True)
    query = step.query()
    assert Step.from_query(n=int(query["n"]), q=int(query["q"]), language=query["l"],
                           s=int(query["s"])) == step
    assert step.next() == Step(number=8, quiet=0, language="es", served=False)
    assert absolute("https://x.example/", "/channels/twilio/voice/turn", query) == (
        "https://x.example/channels/twilio/voice/turn?n=7&q=1&l=es&s=1")


def test_step_out_of_range_is_refused() -> None:
    with pytest.raises(Invalid):
        Step.from_query(n=0)
    assert Step.from_query(n=1, language="fr").language == "en"
