"""The phone line end to end: Twilio-signed call webhooks (shaped like Twilio's own) through
the real app, pipeline and bot on the demo utility; every TwiML answer parsed back and read
the way Twilio would read it."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from channels.twilio_voice.options import TwilioVoiceOptions
from core.accounts.models import Account
from core.agents.models import QueueEntry
from core.auth.service import Caller
from core.billing.models import LedgerEntry
from core.clock import utcnow
from core.conversations.compliance import is_opted_out
from core.conversations.flows import conversation_lock
from core.conversations.models import Conversation, Message
from core.enums import Role
from core.outages import service as outages
from core.outages.enums import Device, DeviceKind
from core.payments.models import PaymentLink
from core.premises.models import Premise, ServicePoint
from tests.bot_helpers import persona, seeded_utility
from tests.messaging_helpers import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    PUBLIC_BASE_URL,
    UTILITY_NUMBER,
    Harness,
    post_signed,
    sid,
    twilio_signature,
    wait_for,
)

CALL_PATH = "/channels/twilio/voice"
STATUS_PATH = "/channels/twilio/voice/status"
CARD = "4111 1111 1111 1111"


def call_payload(*, caller: str, call_sid: str, status: str = "ringing",
                 **extra: str) -> dict[str, str]:
    """An incoming-call webhook form with the fields of a real one."""
    return {
        "Called": UTILITY_NUMBER, "ToState": "LA", "CallerCountry": "US",
        "Direction": "inbound", "CallerState": "OK", "ToZip": "70112", "CallSid": call_sid,
        "To": UTILITY_NUMBER, "CallerZip": "", "ToCountry": "US",
        "StirVerstat": "TN-Validation-Passed-A", "CalledZip": "70112",
        "ApiVersion": "2010-04-01", "CalledCity": "NEW ORLEANS", "CallStatus": status,
        "From": caller, "AccountSid": ACCOUNT_SID, "CalledCountry": "US", "CallerCity": "",
        "ToCity": "NEW ORLEANS", "FromCountry": "US", "Caller": caller, "FromCity": "",
        "CalledState": "LA", "FromZip": "", "FromState": "OK", **extra,
    }


async def _premises(harness: Harness, account_number: str) -> list[Premise]:
    async with harness.runtime.sessions() as session:
        return list(await session.scalars(
            select(Premise).join(Account, Premise.account_id == Account.id)
            .where(Account.number == account_number).order_by(Premise.id)))


def says(node: ET.Element) -> list[str]:
    return [say.text or "" for say in node.iter("Say")]


def spoken(node: ET.Element) -> str:
    return " ".join(says(node))


def verbs(node: ET.Element) -> list[str]:
    return [child.tag for child in node]


def local(url: str) -> str:
    """The path and query Twilio would call, from an absolute URL in our TwiML."""
    assert url.startswith(PUBLIC_BASE_URL + "/channels/twilio/voice"), url
    return url[len(PUBLIC_BASE_URL):]


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@dataclass
class PhoneCall:
    """One caller on the line: follows the action URLs the TwiML gives, as Twilio does."""

    harness: Harness
    caller: str
    call_sid: str = field(default_factory=lambda: sid("CA"))
    action: str | None = None
    last: ET.Element | None = None

    def form(self, **extra: str) -> dict[str, str]:
        return call_payload(caller=self.caller, call_sid=self.call_sid,
                            status="in-progress", **extra)

    async def post(self, path: str, form: dict[str, str]) -> ET.Element:
        response = await post_signed(self.harness.client, path, form)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/xml")
        root = ET.fromstring(response.text)  # valid XML, or this raises
        assert root.tag == "Response"
        gather = root.find("Gather")
        if gather is not None and "/voice/turn" in gather.get("action", ""):
            self.action = gather.get("action")
            # Where Twilio goes if the Gather falls through: the same step again.
            redirect = root.find("Redirect")
            assert redirect is not None and redirect.text == self.action
        self.last = root
        return root

    async def dial(self) -> ET.Element:
        return await self.post(CALL_PATH, call_payload(caller=self.caller,
                                                       call_sid=self.call_sid))

    async def say(self, words: str, confidence: str = "0.9124") -> ET.Element:
        assert self.action, "no <Gather> to answer"
        return await self.post(local(self.action), self.form(
            SpeechResult=words, Confidence=confidence, msg="Gather End"))

    async def press(self, digits: str) -> ET.Element:
        assert self.action, "no <Gather> to answer"
        return await self.post(local(self.action), self.form(Digits=digits,
                                                             msg="Gather End"))

    async def silence(self) -> ET.Element:
        """A Gather with actionOnEmptyResult posts with neither SpeechResult nor Digits."""
        assert self.action, "no <Gather> to answer"
        return await self.post(local(self.action), self.form(msg="Gather End"))

    async def conversation(self) -> Conversation:
        async with self.harness.runtime.sessions() as session:
            record = await session.scalar(select(Message).where(
                Message.channel == "voice", Message.external_id == self.call_sid))
            assert record is not None
            found = await session.get(Conversation, record.conversation_id)
            assert found is not None
            return found


def gather_of(root: ET.Element) -> ET.Element:
    gather = root.find("Gather")
    assert gather is not None, ET.tostring(root)
    return gather


def assert_listens(root: ET.Element, *, language: str = "en-US") -> ET.Element:
    """A turn that listens: speech and keys, our turn URL, silence still posts."""
    gather = gather_of(root)
    assert gather.get("input") == "speech dtmf"
    assert gather.get("method") == "POST"
    assert gather.get("actionOnEmptyResult") == "true"
    assert gather.get("language") == language
    assert gather.get("speechTimeout") == "auto" and gather.get("speechModel") == "phone_call"
    assert urlsplit(gather.get("action", "")).path == "/channels/twilio/voice/turn"
    return gather


async def voice_messages(harness: Harness, call: PhoneCall) -> list[Message]:
    conversation = await call.conversation()
    return await harness.messages(Message.conversation_id == conversation.id)


# -- answering ------------------------------------------------------------------------------

async def test_known_caller_is_greeted_by_name_and_can_switch_to_spanish(db_url: str) -> None:
    async with seeded_utility(db_url) as harness:
        call = PhoneCall(harness, persona("resident").phone)
        root = await call.dial()
        assert verbs(root) == ["Gather", "Redirect"]
        gather = assert_listens(root)
        first, offer = gather.findall("Say")
        assert first.text and first.text.startswith("Hello Dana, this is Riverbend")
        assert (first.get("voice"), first.get("language")) == ("Polly.Joanna", "en-US")
        assert offer.text == "Para español, oprima nueve."
        assert (offer.get("voice"), offer.get("language")) == ("Polly.Lupe", "es-US")
        assert query(gather.get("action", "")) == {"n": "1", "q": "0", "l": "en", "s": "0"}
        # The call is filed once in Dana's conversation, recognized by caller ID.
        conversation = await call.conversation()
        assert conversation.customer_id is not None and conversation.channel == "voice"
        spanish = await call.press("9")
        gather = assert_listens(spanish, language="es-US")
        assert says(spanish)[0].startswith("Hola, le atiende")
        assert query(gather.get("action", ""))["l"] == "es"
        # Nothing the caller keyed to switch languages is a message for the bot.
        assert [m.external_id for m in await voice_messages(harness, call)] == [call.call_sid]


async def test_storm_message_comes_first_while_storm_mode_is_on(db_url: str) -> None:
    async with seeded_utility(db_url) as harness:
        storm = harness.runtime.extras["storm"]
        await storm.set(caller=Caller(name="sue", role=Role.SUPERVISOR), active=True,
                        message="Hurricane Ida: crews are out across the county.")
        root = await PhoneCall(harness, persona("resident").phone).dial()
        assert verbs(root) == ["Say", "Gather", "Redirect"]
        assert root[0].text == "Hurricane Ida: crews are out across the county."
        assert says(gather_of(root))[0].startswith("Hello Dana")
        await storm.set(caller=Caller(name="sue", role=Role.SUPERVISOR), active=False)
        calm = await PhoneCall(harness, persona("resident").phone).dial()
        assert verbs(calm) == ["Gather", "Redirect"]


async def test_forged_or_unsigned_webhooks_are_refused_and_store_nothing(db_url: str) -> None:
    async with seeded_utility(db_url) as harness:
        form = call_payload(caller=persona("resident").phone, call_sid=sid("CA"))
        before = await harness.count(Message)
        unsigned = await harness.client.post(CALL_PATH, data=form)
        forged = await harness.client.post(CALL_PATH, data=form, headers={
            "X-Twilio-Signature": twilio_signature(PUBLIC_BASE_URL + CALL_PATH, form,
                                                   token="not-our-token")})
        tampered_url = "/channels/twilio/voice/turn?n=1&q=0&l=en&s=0"
        signed_for_other_step = await harness.client.post(tampered_url, data=form, headers={
            "X-Twilio-Signature": twilio_signature(
                PUBLIC_BASE_URL + "/channels/twilio/voice/turn?n=2&q=0&l=en&s=0", form,
                AUTH_TOKEN)})
        status = await harness.client.post(STATUS_PATH, data=form)
        assert [r.status_code for r in (unsigned, forged, signed_for_other_step, status)] == [
            403, 403, 403, 403]
        assert await harness.count(Message) == before


# -- the jobs, by voice ---------------------------------------------------------------------

async def test_outage_report_by_voice_from_hazard_question_to_goodbye(db_url: str) -> None:
    async with seeded_utility(db_url) as harness:
        call = PhoneCall(harness, persona("resident").phone)
        await call.dial()
        question = await call.say("My power is out.")
        assert "downed wire" in spoken(question)
        # A yes/no question: one key press is enough.
        assert gather_of(question).get("numDigits") == "1"
        filed = await call.press("2")
        premise = (await _premises(harness, persona("resident").account_number))[0]
        text = spoken(filed)
        assert "Your outage at" in text and premise.address in text and "reported" in text
        assert re.search(r"reference is", text)
        assert says(filed)[-1].startswith("Is there anything else")
        assert query(call.action or "")["s"] == "1"  # served: silence now ends the call
        bye = await call.silence()
        assert verbs(bye) == ["Say", "Hangup"]
        assert says(bye) == ["Thank you for calling Riverbend Public Utilities. Goodbye."]
        # What was said is the conversation's transcript, on the voice channel.
        messages = await voice_messages(harness, call)
        assert [m.body for m in messages if m.direction == "inbound"][1:] == [
            "My power is out.", "2"]
        assert all(m.status == "sent" for m in messages if m.direction == "outbound")
        assert {m.channel for m in messages} == {"voice"}


async def test_outage_status_by_voice_gives_the_known_etr(db_url: str) -> None:
    async with seeded_utility(db_url) as harness:
        premise = (await _premises(harness, persona("resident").account_number))[0]
        async with harness.runtime.sessions() as session:
            transformer_id = await session.scalar(select(ServicePoint.transformer_id).where(
                ServicePoint.premise_id == premise.id,
                ServicePoint.transformer_id.is_not(None)))
            change = await outages.confirm_outage(
                session, device=Device(DeviceKind.TRANSFORMER, transformer_id),
                cause="storm damage")
            await outages.set_etr(session, outage_id=change.outage.id,
                                  etr=utcnow() + timedelta(hours=3))
            await session.commit()
        call = PhoneCall(harness, persona("resident").phone)
        await call.dial()
        status = await call.say("Is there an update on the outage?")
        text = spoken(status)
        assert f"At {premise.address}, the outage is confirmed" in text
        assert "estimated restoration time is" in text and "being assessed" not in text


async def test_balance_only_after_the_account_number_is_keyed(db_url: str) -> None:
    async with seeded_utility(db_url) as harness:
        tanya = persona("past_due")
        call = PhoneCall(harness, tanya.phone)
        await call.dial()
        ask = await call.say("What's my balance?")
        assert "account number" in spoken(ask) and "$" not in spoken(ask)
        # Account numbers end with # on the keypad; Twilio strips it from Digits.
        assert gather_of(ask).get("numDigits") is None
        told = await call.press(tanya.account_number)
        assert re.search(r"Your balance is \$[\d,]+\.\d\d, due", spoken(told))
        assert "Past due: $" in spoken(told)
        conversation = await call.conversation()
        assert conversation.bot_state["verification"] == "verified"


async def test_spoken_card_number_is_masked_and_the_link_goes_by_text(db_url: str) -> None:
    async with seeded_utility(db_url) as harness:
        tanya = persona("past_due")
        call = PhoneCall(harness, tanya.phone)
        await call.dial()
        root = await call.say(f"I want to pay my bill my card number is {CARD}")
        text = spoken(root)
        assert "do not say your card number" in text
        assert "sent a secure payment link to your phone by text message" in text
        assert "4111" not in ET.tostring(root, encoding="unicode")
        messages = await voice_messages(harness, call)
        for message in messages:
            assert CARD not in message.body and CARD.replace(" ", "") not in message.body
        inbound = next(m for m in messages if m.body.startswith("I want to pay"))
        assert inbound.body.endswith("•••• •••• •••• 1111")
        texts = [m for m in messages if m.channel == "sms"]
        assert texts and all(m.recipient == tanya.phone and m.sender == UTILITY_NUMBER
                             and m.reply_to_id == inbound.id for m in texts)
        assert f"{PUBLIC_BASE_URL}/pay/" in " ".join(m.body for m in texts)
        # Sent through the pipeline's SMS sender, to the caller's phone.
        await wait_for(lambda: _sent_to(harness, tanya.phone))
        sent = [m for m in harness.twilio.sent if m["to"] == tanya.phone]
        assert "/pay/" in " ".join(m["body"] for m in sent)
        # The keypad is no way around it either.
        keyed = await call.press(CARD.replace(" ", ""))
        assert "4111" not in ET.tostring(keyed, encoding="unicode")
        for message in await voice_messages(harness, call):
            assert CARD.replace(" ", "") not in message.body


async def _sent_to(harness: Harness, number: str) -> bool:
    return any(m["to"] == number for m in harness.twilio.sent)


async def test_pay_connector_takes_the_card_on_the_keypad_and_posts_once(db_url: str) -> None:
    async with seeded_utility(db_url) as harness:
        harness.runtime.extras["twilio_voice_options"] = TwilioVoiceOptions(
            pay_connector="Default")
        tanya = persona("past_due")
        call = PhoneCall(harness, tanya.phone)
        await call.dial()
        root = await call.say("I'd like to make a payment.")
        assert verbs(root) == ["Say", "Pay"]
        assert "pay $" in spoken(root) and "keypad" in spoken(root)
        assert "text message" not in spoken(root)  # the bot's words for the SMS path are out
        pay = root.find("Pay")
        assert pay is not None and pay.get("paymentConnector") == "Default"
        assert pay.get("input") == "dtmf" and pay.get("language") == "en-US"
        action = pay.get("action", "")
        link = await _link(harness, int(query(action)["link"]))
        assert pay.get("chargeAmount") == f"{link.amount_cents / 100:.2f}"
        assert link.channel == "voice"
        messages = await voice_messages(harness, call)
        assert not [m for m in messages if m.channel == "sms"]
        withdrawn = [m for m in messages if m.status == "suppressed"]
        assert withdrawn and all("text message" in m.body for m in withdrawn)
        # Twilio posts the result; a retry of that post must not pay twice.
        result = call.form(Result="success", PaymentConfirmationCode="ch_1A2B",
                           PaymentCardNumber="xxxxxxxxxxxx1111", PaymentCardType="visa")
        done = await call.post(local(action), result)
        again = await call.post(local(action), result)
        assert ET.tostring(done) == ET.tostring(again)
        assert "Your payment of $" in spoken(done) and "c h _ 1 A 2 B" in spoken(done)
        async with harness.runtime.sessions() as session:
            posted = list(await session.scalars(select(LedgerEntry).where(
                LedgerEntry.reference == f"paylink:{link.id}")))
        assert len(posted) == 1
        assert (await _link(harness, link.id)).used_at is not None


async def test_failed_keypad_payment_falls_back_to_a_texted_link(db_url: str) -> None:
    async with seeded_utility(db_url) as harness:
        harness.runtime.extras["twilio_voice_options"] = TwilioVoiceOptions(
            pay_connector="Default")
        tanya = persona("past_due")
        call = PhoneCall(harness, tanya.phone)
        await call.dial()
        pay = (await call.say("Pay my bill.")).find("Pay")
        assert pay is not None
        failed = call.form(Result="too-many-failed-attempts")
        root = await call.post(local(pay.get("action", "")), failed)
        await call.post(local(pay.get("action", "")), failed)
        assert "did not go through" in spoken(root) and "by text message" in spoken(root)
        texts = [m for m in await voice_messages(harness, call) if m.channel == "sms"]
        assert len({m.reply_to_id for m in texts}) == 1 and "/pay/" in texts[-1].body


async def _link(harness: Harness, link_id: int) -> PaymentLink:
    async with harness.runtime.sessions() as session:
        link = await session.get(PaymentLink, link_id)
        assert link is not None
        return link


# -- people ---------------------------------------------------------------------------------

async def test_hand_off_waits_in_line_hears_its_place_and_takes_a_callback(db_url: str) -> None:
    async with seeded_utility(db_url) as harness:
        dana = persona("resident")
        call = PhoneCall(harness, dana.phone)
        await call.dial()
        root = await call.say("I want to talk to a person.")
        assert verbs(root) == ["Say", "Enqueue"]
        assert "You are number 1 in line" in spoken(root)
        enqueue = root.find("Enqueue")
        assert enqueue is not None and enqueue.text == "stormdesk-billing"
        wait_url, exit_url = enqueue.get("waitUrl", ""), enqueue.get("action", "")
        assert urlsplit(wait_url).path == "/channels/twilio/voice/queue/wait"
        assert enqueue.get("waitUrlMethod") == "POST"
        conversation = await call.conversation()
        assert conversation.owner == "queued" and conversation.handoff["reason"] == "requested"
        await wait_for(lambda: _entry(harness, conversation.id, "waiting"))
        # While waiting: the place in line from the console, the offer, the music.
        hold = await call.post(local(wait_url), call.form(
            QueuePosition="1", QueueSid="QU" + "0" * 32, QueueTime="12", AvgQueueTime="30",
            CurrentQueueSize="1"))
        gather = gather_of(hold)
        assert gather.get("numDigits") == "1" and gather.get("input") == "dtmf"
        estimate = harness.runtime.extras["queue_estimate"]
        position, minutes = await estimate(conversation.id, "billing", conversation.priority)
        assert position == 1
        assert says(gather) == [
            f"You are number 1 in line. The expected wait is about {minutes} minutes.",
            "To hang up and get a call back instead of waiting, press 1."]
        music = gather.find("Play")
        assert music is not None and music.text == PUBLIC_BASE_URL + \
            "/channels/twilio/voice/hold-music.wav"
        audio = await harness.client.get(local(music.text))
        assert audio.headers["content-type"] == "audio/wav"
        assert audio.content[:4] == b"RIFF" and audio.content[8:12] == b"WAVE"
        # Press 1: the callback is recorded and the caller leaves the queue politely.
        choice = gather.get("action", "")
        left = await call.post(local(choice), call.form(Digits="1"))
        assert verbs(left) == ["Leave"]
        assert verbs(await call.post(local(choice), call.form(Digits="1"))) == ["Leave"]
        bye = await call.post(local(exit_url), call.form(QueueResult="leave", QueueTime="40"))
        assert verbs(bye) == ["Say", "Hangup"]
        tail = dana.phone[-4:]
        assert says(bye) == [
            f"Thank you. A specialist will call you back at the number ending in {tail}. Goodbye."]
        conversation = await call.conversation()
        assert conversation.handoff["summary"]["callback"]["number"] == dana.phone
        assert await _entry(harness, conversation.id, "callback")


async def _entry(harness: Harness, conversation_id: int, state: str) -> bool:
    async with harness.runtime.sessions() as session:
        entry = await session.scalar(select(QueueEntry).where(
            QueueEntry.conversation_id == conversation_id).order_by(QueueEntry.id.desc()))
        return entry is not None and entry.state == state


async def test_silent_caller_is_prompted_again_then_handed_to_a_person(db_url: str) -> None:
    async with seeded_utility(db_url) as harness:
        call = PhoneCall(harness, persona("resident").phone)
        await call.dial()
        again = await call.silence()
        assert says(again)[0] == "Sorry, I didn't hear anything."
        assert "report an outage" in says(again)[1]
        assert query(call.action or "") == {"n": "2", "q": "1", "l": "en", "s": "0"}
        handed = await call.silence()
        assert verbs(handed) == ["Say", "Say", "Enqueue"]
        assert says(handed)[0] == "Let me connect you with a specialist who can help."
        assert "You are number 1 in line" in says(handed)[1]
        conversation = await call.conversation()
        assert conversation.owner == "queued" and conversation.handoff["reason"] == "no_input"
        # Nothing was stored for the silences: there was nothing to store.
        assert [m.author for m in await voice_messages(harness, call)] == ["system"]


async def test_unsure_speech_is_a_no_match_reprompted_once(db_url: str) -> None:
    async with seeded_utility(db_url) as harness:
        call = PhoneCall(harness, persona("resident").phone)
        await call.dial()
        again = await call.say("mumble mumble", confidence="0.08")
        assert says(again)[0] == "Sorry, I didn't catch that."
        handed = await call.say("hmm", confidence="0.05")
        assert verbs(handed)[-1] == "Enqueue"
        assert (await call.conversation()).handoff["reason"] == "no_match"


async def test_a_full_queue_becomes_a_callback_not_a_busy_signal(db_url: str) -> None:
    async with seeded_utility(db_url) as harness:
        call = PhoneCall(harness, persona("landlord").phone)
        await call.dial()
        enqueue = (await call.say("Representative.")).find("Enqueue")
        assert enqueue is not None
        bye = await call.post(local(enqueue.get("action", "")),
                              call.form(QueueResult="queue-full"))
        assert "We will call you back at the number ending in" in spoken(bye)
        conversation = await call.conversation()
        assert conversation.handoff["summary"]["callback"]["via"] == "queue queue-full"


# -- retries, status, language --------------------------------------------------------------

async def test_every_step_survives_a_twilio_retry(db_url: str) -> None:
    async with seeded_utility(db_url) as harness:
        call = PhoneCall(harness, persona("resident").phone)
        greeting = await call.dial()
        assert ET.tostring(await call.dial()) == ET.tostring(greeting)
        action = call.action
        assert action is not None
        form = call.form(SpeechResult="My power is out.", Confidence="0.93")
        first = await call.post(local(action), form)
        second = await call.post(local(action), form)
        assert ET.tostring(first) == ET.tostring(second)
        # Twilio's own fall-through <Redirect> to the step carries no speech: same answer.
        third = await call.post(local(action), call.form())
        assert ET.tostring(third) == ET.tostring(first)
        messages = await voice_messages(harness, call)
        assert [m.body for m in messages if m.direction == "inbound"] == [
            "Phone call", "My power is out."]
        replies = [m for m in messages if m.direction == "outbound"]
        assert len(replies) == len(says(first))
        # Silence is answered from the URL alone, the same way twice.
        quiet_action = call.action
        assert quiet_action is not None
        once = await call.post(local(quiet_action), call.form())
        twice = await call.post(local(quiet_action), call.form())
        assert ET.tostring(once) == ET.tostring(twice)


async def test_call_status_callbacks_only_move_forward(db_url: str) -> None:
    async with seeded_utility(db_url) as harness:
        call = PhoneCall(harness, persona("resident").phone)
        await call.dial()
        for status, extra in (("completed", {"CallDuration": "42"}), ("in-progress", {}),
                              ("completed", {"CallDuration": "42"})):
            form = call_payload(caller=call.caller, call_sid=call.call_sid, status=status,
                                CallbackSource="call-progress-events", SequenceNumber="2",
                                **extra)
            response = await post_signed(harness.client, STATUS_PATH, form)
            assert response.status_code == 204
        records = await harness.messages(Message.external_id == call.call_sid)
        assert [(r.status, r.body) for r in records] == [
            ("completed", "Phone call, completed, 42 s")]
        # A status for a call that never reached the line is filed too, once.
        other = sid("CA")
        form = call_payload(caller=call.caller, call_sid=other, status="no-answer")
        for _ in range(2):
            assert (await post_signed(harness.client, STATUS_PATH, form)).status_code == 204
        assert [r.status for r in await harness.messages(Message.external_id == other)] == [
            "no-answer"]


async def test_spanish_caller_hears_and_is_heard_in_spanish(db_url: str) -> None:
    async with seeded_utility(db_url) as harness:
        call = PhoneCall(harness, persona("spanish").phone)
        root = await call.dial()
        gather = assert_listens(root, language="es-US")
        hello, offer = gather.findall("Say")
        assert hello.text and hello.text.startswith("Hola Lucía, le atiende")
        assert hello.get("voice") == "Polly.Lupe"
        assert (offer.text, offer.get("language")) == ("For English, press nine.", "en-US")
        question = await call.say("Se fue la luz.")
        assert_listens(question, language="es-US")
        assert "cable caído" in spoken(question)
        assert {s.get("voice") for s in question.iter("Say")} == {"Polly.Lupe"}
        filed = await call.say("No.")
        assert "apagón" in spoken(filed)
        assert says(filed)[-1].startswith("¿Hay algo más")


async def test_a_lone_stop_or_cancel_on_the_phone_is_not_an_sms_opt_out(db_url: str) -> None:
    async with seeded_utility(db_url) as harness:
        dana = persona("resident")
        call = PhoneCall(harness, dana.phone)
        await call.dial()
        await call.say("My power is out.")
        await call.say("Cancel.")
        async with harness.runtime.sessions() as session:
            assert not await is_opted_out(session, dana.phone)
        inbound = [m for m in await voice_messages(harness, call) if m.direction == "inbound"]
        # Stored as said; carrier keywords are an SMS rule, so intake never reads one here.
        assert inbound[-1].body == "Cancel." and inbound[-1].carrier_keyword is None


async def test_withheld_caller_id_is_a_stranger_with_no_callback_offer(db_url: str) -> None:
    async with seeded_utility(db_url) as harness:
        call = PhoneCall(harness, "anonymous")
        root = await call.dial()
        assert says(gather_of(root))[0].startswith("Hello, this is Riverbend")
        enqueue = (await call.say("Agent.")).find("Enqueue")
        assert enqueue is not None
        conversation = await call.conversation()
        assert conversation.address == f"anonymous:{call.call_sid}"
        assert conversation.customer_id is None
        hold = await call.post(local(enqueue.get("waitUrl", "")), call.form())
        assert hold.find("Gather") is None  # nothing to press: no number to call back
        assert verbs(hold)[-1] == "Play"


async def test_a_slow_bot_keeps_the_caller_on_the_line_and_answers_on_the_redirect(
        db_url: str) -> None:
    async with seeded_utility(db_url) as harness:
        harness.runtime.extras["twilio_voice_options"] = TwilioVoiceOptions(
            inline_budget_s=0.3)
        call = PhoneCall(harness, persona("resident").phone)
        await call.dial()
        action = call.action
        assert action is not None
        conversation = await call.conversation()
        # The worker cannot take the conversation while we hold its lock: a backlog.
        async with harness.runtime.lock.hold(conversation_lock(conversation.id)):
            hold_on = await call.post(local(action), call.form(
                SpeechResult="My power is out.", Confidence="0.9"))
        assert verbs(hold_on) == ["Say", "Pause", "Redirect"]
        assert says(hold_on) == ["One moment, please."]
        redirect = hold_on.find("Redirect")
        assert redirect is not None and redirect.text == action
        await wait_for(lambda: _handled(harness, call))
        answer = await call.post(local(action), call.form())  # Twilio following the redirect
        assert "downed wire" in spoken(answer)
        # The replies waited for the call, never went to a sender, and are now said.
        replies = [m for m in await voice_messages(harness, call) if m.direction == "outbound"]
        assert replies and {m.status for m in replies} == {"sent"}


async def _handled(harness: Harness, call: PhoneCall) -> bool:
    messages = await voice_messages(harness, call)
    return any(m.body == "My power is out." and m.handled_at is not None for m in messages)
