"""A phone call through the conversation pipeline, one webhook at a time.

Answer: recognize the caller by caller ID, file the call, greet (the storm message first
while storm mode is on), listen. Each turn: what the caller said or keyed goes into the same
pipeline as a text (channel "voice", keyed by CallSid + step number), the bot answers, and
the answer is spoken; then listen again, queue for a person, or take a payment.

Every step survives a Twilio retry: a step's answer is a function of what is stored for it
(the caller's input, the bot's replies to it, the conversation), so the same webhook
delivered twice stores one message and returns the same TwiML. Steps that store nothing
(silence, the language switch) are a function of the URL alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from twilio.twiml.voice_response import VoiceResponse

from bot.flows.common import money
from bot.replies import Templates
from channels.twilio_voice import calls, payment, queue, twiml
from channels.twilio_voice.options import (
    HOLD_MUSIC_PATH,
    PAY_PATH,
    QUEUE_CHOICE_PATH,
    QUEUE_EXIT_PATH,
    QUEUE_WAIT_PATH,
    TURN_PATH,
    TwilioVoiceOptions,
    voice_options,
)
from channels.twilio_voice.parser import (
    ANONYMOUS,
    TwilioVoiceParser,
    VoiceTurn,
    call_sid,
    caller_address,
    caller_input,
)
from channels.twilio_voice.steps import LANGUAGES, Step, absolute
from channels.twilio_voice.twiml import Line
from core.clock import utcnow
from core.conversations import direct, repository
from core.conversations import flows as pipeline
from core.conversations.models import Conversation, Message
from core.conversations.policy import status_rank
from core.db import unit_of_work
from core.runtime import Runtime

log = logging.getLogger(__name__)

# Bot questions answered with one key (yes/no, "press the number"): Gather posts at once.
SINGLE_KEY = frozenset({"yes_no", "choice"})
FIRST_POLL_S = 0.02
MAX_POLL_S = 0.25


def _no_webhook_wait(_message_id: int) -> None:
    """Registered as the inline waiter so the bot's replies are held for this call's TwiML
    (never sent by a channel sender: a phone call has none). The webhook reads them itself:
    the SMS collector would gate them on SMS consent and, when late, hand them to REST."""


@dataclass
class Call:
    """One request's view of the call: the runtime, options, and how to word things."""

    runtime: Runtime
    form: Mapping[str, str]
    options: TwilioVoiceOptions = field(init=False)
    templates: Templates = field(init=False)

    def __post_init__(self) -> None:
        self.options = voice_options(self.runtime)
        self.templates = Templates(self.runtime.settings.templates_dir)

    def line(self, key: str, language: str, **values: Any) -> Line:
        settings = self.runtime.settings
        text = self.templates.render(key, language=language, channel="voice",
                                     utility=settings.utility_name,
                                     utility_phone=settings.utility_phone, **values).text
        return Line(text, language)

    def url(self, path: str, step: Step | None = None, **extra: str) -> str:
        params = {**(step.query() if step else {}), **extra}
        return absolute(self.runtime.settings.public_base_url, path, params or None)

    @property
    def address(self) -> str:
        return caller_address(self.form, region=self.options.region)

    def ask(self, response: VoiceResponse, lines: list[Line], step: Step, *,
            single_key: bool = False) -> VoiceResponse:
        return twiml.ask(response, lines, action=self.url(TURN_PATH, step),
                         language=step.language, options=self.options, single_key=single_key)


# -- the call comes in ----------------------------------------------------------------------

async def answer(runtime: Runtime, form: Mapping[str, str]) -> VoiceResponse:
    call = Call(runtime, form)
    async with unit_of_work(runtime.sessions) as session:
        caller = await calls.open_call(session, form=form, region=call.options.region)
    language = caller.language if caller.language in LANGUAGES else "en"
    response = VoiceResponse()
    storm = await storm_greeting(runtime, language)
    if storm:
        # Outside the <Gather>: the storm message is heard whole before anything else.
        twiml.say(response, Line(storm, language), call.options)
    return greet(call, response, Step(language=language), first_name=caller.first_name)


def greet(call: Call, response: VoiceResponse, step: Step, *,
          first_name: str | None) -> VoiceResponse:
    other = "es" if step.language == "en" else "en"
    lines = [call.line("greet", step.language, name_part=f" {first_name}" if first_name else ""),
             call.line("voice_language_offer", other)]
    return call.ask(response, lines, step)


async def storm_greeting(runtime: Runtime, language: str) -> str | None:
    """The storm message while storm mode is on (core/storm/mode.py), else None."""
    storm = runtime.extras.get("storm")
    if storm is None:
        return None
    greeting = getattr(storm, "greeting", None)
    if greeting is not None:
        return await greeting(language)
    if not await storm.active():
        return None
    settings = runtime.settings
    return Templates(settings.templates_dir).render(
        "storm_greeting", language=language, channel="voice", utility=settings.utility_name,
        utility_phone=settings.utility_phone).text


# -- one turn -------------------------------------------------------------------------------

async def take_turn(runtime: Runtime, form: Mapping[str, str], step: Step) -> VoiceResponse:
    call = Call(runtime, form)
    external_id = step.external_id(call_sid(form))
    async with runtime.sessions() as session:
        stored = await repository.message_by_external_id(session, "voice", external_id)
    if stored is not None:
        # Twilio delivered this step before (a retry, or our own "one moment" redirect).
        return await answer_turn(call, stored.id, step)
    heard = caller_input(form, min_confidence=call.options.min_confidence,
                         agent_digit=call.options.agent_digit)
    if (step.number == 1 and step.quiet == 0 and heard.via == "dtmf"
            and heard.text == call.options.language_digit):
        other = "es" if step.language == "en" else "en"
        return greet(call, VoiceResponse(), step.next(language=other), first_name=None)
    if not heard.heard:
        return await not_heard(call, step, no_match=heard.no_match)
    inbound = TwilioVoiceParser(region=call.options.region).parse(
        VoiceTurn(form=form, step=step, text=heard.text))
    result = await pipeline.intake(runtime, inbound, expect_inline=_no_webhook_wait,
                                   handle_here=direct.handle_here(runtime))
    return await answer_turn(call, result.message_id, step)


async def answer_turn(call: Call, message_id: int, step: Step) -> VoiceResponse:
    """Wait (bounded) for the bot, then speak what is stored for this turn."""
    if not await _handled(call.runtime, message_id, call.options.inline_budget_s):
        # The bot is slow (a backlog): keep the caller on the line and ask again. The
        # redirect is this same step, which the store answers once the bot is done.
        response = VoiceResponse()
        twiml.say(response, call.line("voice_one_moment", step.language), call.options)
        response.pause(length=1)
        response.redirect(call.url(TURN_PATH, step), method="POST")
        return response
    async with call.runtime.sessions() as session:
        language = await _turn_language(session, message_id, step)
    paying = await payment.settle(call.runtime, inbound_id=message_id, language=language,
                                  options=call.options)
    async with unit_of_work(call.runtime.sessions) as session:
        said = await _speak(session, message_id)
        conversation = await _conversation_of(session, message_id)
    lines = [Line(text, language) for text in said]
    state = dict(conversation.bot_state or {})
    response = VoiceResponse()
    if paying is not None and call.options.pay_connector:
        twiml.say_all(response, lines, call.options)
        return twiml.pay(response, action=call.url(
            PAY_PATH, step.next(language=language, served=True), m=str(message_id),
            link=str(paying.link_id)), amount_cents=paying.amount_cents, language=language,
            description=f"{call.runtime.settings.utility_name} bill", options=call.options)
    if conversation.owner in queue.WAITING:
        twiml.say_all(response, lines, call.options)
        return enqueue(call, response, conversation, language)
    served = (state.get("flow") is None and not state.get("misunderstandings")
              and bool(said) and not said[-1].rstrip().endswith("?"))
    if served or not lines:
        lines.append(call.line("voice_anything_else", language))
    return call.ask(response, lines, step.next(language=language, served=served),
                    single_key=state.get("expecting") in SINGLE_KEY)


async def not_heard(call: Call, step: Step, *, no_match: bool) -> VoiceResponse:
    """Silence, or speech too unsure to act on: re-prompt once, then a person takes over.
    After the caller was served, silence is just the end of the call."""
    language = step.language
    if step.served and not no_match:
        return twiml.goodbye(VoiceResponse(), [call.line("voice_goodbye", language)],
                             call.options)
    async with unit_of_work(call.runtime.sessions) as session:
        caller = await calls.open_call(session, form=call.form, region=call.options.region)
        conversation = await session.get(Conversation, caller.conversation_id)
        assert conversation is not None
        state = dict(conversation.bot_state or {})
    if conversation.owner in queue.WAITING:
        return enqueue(call, VoiceResponse(), conversation, language)
    if step.quiet >= 1:
        reason = "no_match" if no_match else "no_input"
        place = await queue.hand_off(call.runtime, conversation_id=caller.conversation_id,
                                     reason=reason, detail="the phone line could not hear "
                                     "the caller twice in a row")
        response = VoiceResponse()
        lines = [call.line("voice_silent_handoff", language)]
        if place.position is not None:
            lines.append(call.line("handoff_queued", language, position=place.position,
                                   wait_minutes=place.wait_minutes))
        twiml.say_all(response, lines, call.options)
        return enqueue(call, response, place, language)
    sorry = "voice_reprompt_nomatch" if no_match else "voice_reprompt_silence"
    prompt = (state.get("slots") or {}).get("_prompt") if state.get("flow") else None
    lines = [call.line(sorry, language),
             Line(prompt, language) if prompt else call.line("help", language)]
    return call.ask(VoiceResponse(), lines, step.next(quiet=step.quiet + 1, served=step.served),
                    single_key=state.get("expecting") in SINGLE_KEY)


# -- a person -------------------------------------------------------------------------------

def enqueue(call: Call, response: VoiceResponse, conversation: Conversation | queue.Place,
            language: str) -> VoiceResponse:
    """Into the skill's Twilio queue. The wait and exit URLs carry the conversation id: safe
    in a URL, since Twilio signs the URLs it calls back and we check."""
    params = {"c": str(conversation.id if isinstance(conversation, Conversation)
                       else conversation.conversation_id), "l": language}
    name = f"{call.options.queue_prefix}-{conversation.skill or 'billing'}"
    return twiml.enqueue(response, queue=name, action=call.url(QUEUE_EXIT_PATH, **params),
                         wait_url=call.url(QUEUE_WAIT_PATH, **params), options=call.options)


async def hold(runtime: Runtime, form: Mapping[str, str], *, conversation_id: int,
               language: str) -> VoiceResponse:
    """The waitUrl document: the caller's place in line from the console, the callback
    offer when we have a number to call, and the music."""
    call = Call(runtime, form)
    place = await queue.place_of(runtime, conversation_id)
    lines: list[Line] = []
    if place.owner == "agent":
        lines.append(call.line("voice_hold_agent_coming", language))
    elif place.position is not None:
        lines.append(call.line("voice_hold_position", language, position=place.position,
                               wait_minutes=place.wait_minutes))
    can_call_back = not call.address.startswith(ANONYMOUS) and place.owner != "agent"
    if can_call_back:
        lines.append(call.line("voice_hold_callback_offer", language))
    music = call.options.hold_music_url or call.url(HOLD_MUSIC_PATH)
    choice = call.url(QUEUE_CHOICE_PATH, c=str(conversation_id),
                      l=language) if can_call_back else None
    return twiml.hold(VoiceResponse(), lines, music_url=music, choice_action=choice,
                      language=language, options=call.options)


async def hold_choice(runtime: Runtime, form: Mapping[str, str], *, conversation_id: int,
                      language: str) -> VoiceResponse:
    """A key pressed on hold: 1 takes the callback and leaves the queue (Twilio then posts
    the Enqueue action with QueueResult=leave); anything else goes back to the music."""
    call = Call(runtime, form)
    response = VoiceResponse()
    if (form.get("Digits") or "").strip() == "1" and not call.address.startswith(ANONYMOUS):
        await queue.request_callback(runtime, conversation_id=conversation_id,
                                     number=call.address, via="keypad on hold")
        response.leave()
        return response
    response.redirect(call.url(QUEUE_WAIT_PATH, c=str(conversation_id), l=language),
                      method="POST")
    return response


async def left_queue(runtime: Runtime, form: Mapping[str, str], *, conversation_id: int,
                     language: str) -> VoiceResponse:
    """The Enqueue action: how the wait ended. `leave` is our callback; a full queue or a
    queue error becomes a callback too, rather than a busy signal (DOMAIN.md storm numbers)."""
    call = Call(runtime, form)
    result = str(form.get("QueueResult") or "")
    anonymous = call.address.startswith(ANONYMOUS)
    tail = call.address[-4:]
    if result in ("queue-full", "error", "system-error") and not anonymous:
        await queue.request_callback(runtime, conversation_id=conversation_id,
                                     number=call.address, via=f"queue {result}")
        return twiml.goodbye(VoiceResponse(), [call.line("voice_queue_full", language,
                                                         phone_tail=tail)], call.options)
    if result in ("queue-full", "error", "system-error"):
        return twiml.goodbye(VoiceResponse(), [call.line("voice_queue_busy", language)],
                             call.options)
    if result == "leave" and not anonymous:
        return twiml.goodbye(VoiceResponse(), [call.line("voice_callback_confirmed", language,
                                                         phone_tail=tail)], call.options)
    # bridged (the agent's call has ended), hangup (nobody is listening), redirected.
    return twiml.goodbye(VoiceResponse(), [], call.options)


# -- payment --------------------------------------------------------------------------------

async def pay_done(runtime: Runtime, form: Mapping[str, str], *, message_id: int,
                   link_id: int, step: Step) -> VoiceResponse:
    call = Call(runtime, form)
    result = await payment.pay_result(runtime, form=dict(form), inbound_id=message_id,
                                      link_id=link_id, language=step.language,
                                      options=call.options)
    if result.paid:
        line = call.line("voice_pay_done", step.language, amount=money(result.amount_cents),
                         confirmation=" ".join(result.confirmation) or "-")
    else:
        line = call.line("voice_pay_failed" if result.texted else "voice_pay_failed_no_sms",
                         step.language)
    return call.ask(VoiceResponse(), [line, call.line("voice_anything_else", step.language)],
                    step)


# -- the store ------------------------------------------------------------------------------

async def _handled(runtime: Runtime, message_id: int, budget_s: float) -> bool:
    """Whether the pipeline has handled the message, waiting up to `budget_s`. A bounded poll
    with backoff: one primary-key read every few tens of milliseconds while the bot works."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + budget_s
    pause = FIRST_POLL_S
    while True:
        async with runtime.sessions() as session:
            message = await session.get(Message, message_id, populate_existing=True)
            if message is None or message.handled_at is not None:
                return True
        if loop.time() + pause > deadline:
            return False
        await asyncio.sleep(pause)
        pause = min(pause * 2, MAX_POLL_S)


async def _turn_language(session: AsyncSession, message_id: int, step: Step) -> str:
    conversation = await _conversation_of(session, message_id)
    language = (conversation.bot_state or {}).get("language") or step.language
    return language if language in LANGUAGES else "en"


async def _conversation_of(session: AsyncSession, message_id: int) -> Conversation:
    message = await session.get(Message, message_id)
    assert message is not None
    conversation = await session.get(Conversation, message.conversation_id,
                                     populate_existing=True)
    assert conversation is not None
    return conversation


async def _speak(session: AsyncSession, message_id: int) -> list[str]:
    """The replies to this turn that the line says, in order, marked sent (they ride this
    TwiML). Suppressed ones were withdrawn; SMS ones go by text."""
    replies = [r for r in await session.scalars(repository.replies_to(message_id))
               if r.channel == "voice" and r.status != "suppressed"]
    pending = [r.id for r in replies if r.status in ("held", "pending", "claimed")]
    if pending:
        await session.execute(
            update(Message).where(Message.id.in_(pending))
            .values(status="sent", status_rank=status_rank("sent"), status_at=utcnow(),
                    sent_at=utcnow())
            .execution_options(synchronize_session=False))
    return [r.body for r in replies]
