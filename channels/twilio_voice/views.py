"""Twilio's voice webhooks: the incoming call, each turn, the queue, <Pay> and call status.

Every POST here is verified by Twilio's signature first (the SMS channel's dependency:
a forged or unsigned request is refused with 403 before anything is read or stored), and
answers with TwiML. The hold music is the one GET: public audio, nothing to protect.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import APIRouter, Query, Response
from starlette.datastructures import FormData

from channels.twilio_sms.security import VerifiedTwilioForm
from channels.twilio_voice import calls, flows, twiml
from channels.twilio_voice.hold_music import hold_music_wav
from channels.twilio_voice.options import PREFIX, voice_options
from channels.twilio_voice.steps import Step
from core.db import unit_of_work
from core.http import RuntimeDep

router = APIRouter(prefix=PREFIX, tags=["twilio voice"])

StepNumber = Query(ge=1, le=1000, description="turn of the call")
Quiet = Query(default=0, ge=0, le=9, description="turns in a row with nothing heard")
Language = Query(default="en", alias="l", pattern="^(en|es)$", description="the caller's language")
Served = Query(default=0, ge=0, le=1, description="the bot finished a job")
ConversationId = Query(ge=1, description="our conversation id")


def _fields(form: FormData) -> Mapping[str, str]:
    return {k: v for k, v in form.items() if isinstance(v, str)}


@router.post("", response_class=Response, summary="Incoming call")
async def incoming_call(form: VerifiedTwilioForm, runtime: RuntimeDep) -> Response:
    return twiml.as_http(await flows.answer(runtime, _fields(form)))


@router.post("/turn", response_class=Response, summary="What the caller said or keyed")
async def turn(form: VerifiedTwilioForm, runtime: RuntimeDep, n: int = StepNumber,
               q: int = Quiet, language: str = Language, s: int = Served) -> Response:
    step = Step.from_query(n=n, q=q, language=language, s=s)
    return twiml.as_http(await flows.take_turn(runtime, _fields(form), step))


@router.post("/pay", response_class=Response, summary="Result of a <Pay> step")
async def pay(form: VerifiedTwilioForm, runtime: RuntimeDep, m: int = Query(ge=1),
              link: int = Query(ge=1), n: int = StepNumber, q: int = Quiet,
              language: str = Language, s: int = Served) -> Response:
    step = Step.from_query(n=n, q=q, language=language, s=s)
    return twiml.as_http(await flows.pay_done(runtime, _fields(form), message_id=m,
                                              link_id=link, step=step))


@router.post("/queue/wait", response_class=Response, summary="What a caller on hold hears")
async def queue_wait(form: VerifiedTwilioForm, runtime: RuntimeDep, c: int = ConversationId,
                     language: str = Language) -> Response:
    return twiml.as_http(await flows.hold(runtime, _fields(form), conversation_id=c,
                                          language=language))


@router.post("/queue/choice", response_class=Response, summary="A key pressed on hold")
async def queue_choice(form: VerifiedTwilioForm, runtime: RuntimeDep,
                       c: int = ConversationId, language: str = Language) -> Response:
    return twiml.as_http(await flows.hold_choice(runtime, _fields(form), conversation_id=c,
                                                 language=language))


@router.post("/queue/exit", response_class=Response, summary="How the wait in line ended")
async def queue_exit(form: VerifiedTwilioForm, runtime: RuntimeDep, c: int = ConversationId,
                     language: str = Language) -> Response:
    return twiml.as_http(await flows.left_queue(runtime, _fields(form), conversation_id=c,
                                                language=language))


@router.post("/status", status_code=204, summary="Call status callback")
async def call_status(form: VerifiedTwilioForm, runtime: RuntimeDep) -> Response:
    """Moves the call's record forward only: Twilio sends these twice and out of order."""
    async with unit_of_work(runtime.sessions) as session:
        await calls.record_call_status(session, form=_fields(form),
                                       region=voice_options(runtime).region)
    return Response(status_code=204)


@router.get("/hold-music.wav", summary="Hold music (generated)", include_in_schema=False)
async def hold_music() -> Response:
    return Response(content=hold_music_wav(), media_type="audio/wav",
                    headers={"Cache-Control": "public, max-age=86400"})
