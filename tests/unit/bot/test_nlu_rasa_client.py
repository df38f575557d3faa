"""The Rasa client and the tiered pipeline: Rasa's answers mapped, failures fall back, the
breaker opens and half-opens, fallbacks are counted, and card numbers never leave."""

from __future__ import annotations

import json

import httpx
import pytest
from prometheus_client import REGISTRY

from bot.nlu.base import NluResult
from bot.nlu.breaker import BreakerState, CircuitBreaker
from bot.nlu.embedded import EmbeddedNlu, default_engine
from bot.nlu.pipeline import Nlu
from bot.nlu.rasa_client import RasaNlu

RASA_URL = "http://rasa.test:5005"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class RasaStub:
    """Answers /model/parse like Rasa 3.6 does, or fails as told; records what it was sent."""

    def __init__(self) -> None:
        self.fail: Exception | None = None
        self.status = 200
        self.sent: list[dict[str, object]] = []
        self.intent = "report_outage"

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/model/parse"
        self.sent.append(json.loads(request.content))
        if self.fail is not None:
            raise self.fail
        body = {
            "text": self.sent[-1]["text"],
            "intent": {"name": self.intent, "confidence": 0.93},
            "entities": [{"entity": "address", "value": "12 Elm St", "start": 13, "end": 22,
                          "extractor": "DIETClassifier"}],
            "intent_ranking": [{"name": self.intent, "confidence": 0.93},
                               {"name": "outage_status", "confidence": 0.04}],
        }
        return httpx.Response(self.status, json=body)


@pytest.fixture(scope="module")
def embedded() -> EmbeddedNlu:
    return default_engine()


@pytest.fixture
def stub() -> RasaStub:
    return RasaStub()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def rasa(stub: RasaStub, clock: FakeClock, embedded: EmbeddedNlu) -> RasaNlu:
    client = httpx.AsyncClient(transport=httpx.MockTransport(stub))
    breaker = CircuitBreaker(failure_threshold=3, reset_after=30.0, clock=clock)
    return RasaNlu(RASA_URL, fallback=embedded, breaker=breaker, client=client)


def fallbacks(reason: str) -> float:
    return REGISTRY.get_sample_value("stormdesk_nlu_fallback_total", {"reason": reason}) or 0.0


async def test_rasa_answer_becomes_an_nlu_result(rasa: RasaNlu) -> None:
    result = await rasa.parse("no power at 12 Elm St since noon")
    assert (result.intent, result.confidence, result.engine) == ("report_outage", 0.93, "rasa")
    assert result.ranking[1].intent == "outage_status"
    assert result.entity("address").value == "12 Elm St"


@pytest.mark.parametrize("rasa_intent", ["nlu_fallback", "some_old_intent"])
async def test_unknown_rasa_intents_are_out_of_scope(rasa: RasaNlu, stub: RasaStub,
                                                     rasa_intent: str) -> None:
    stub.intent = rasa_intent
    assert (await rasa.parse("whatever")).intent == "out_of_scope"


async def test_card_numbers_are_masked_before_they_reach_rasa(rasa: RasaNlu, stub: RasaStub) -> None:
    await rasa.parse("pay with 4111 1111 1111 1111 please")
    assert stub.sent[-1]["text"] == "pay with •••• •••• •••• 1111 please"


async def test_timeouts_fall_back_to_embedded_and_open_the_breaker(
    rasa: RasaNlu, stub: RasaStub, clock: FakeClock
) -> None:
    stub.fail = httpx.ReadTimeout("slow")
    before_timeout, before_open = fallbacks("timeout"), fallbacks("circuit_open")
    for _ in range(3):
        result = await rasa.parse("my power is out")
        assert (result.intent, result.engine) == ("report_outage", "embedded")
    assert rasa.breaker.state is BreakerState.OPEN
    calls = len(stub.sent)

    result = await rasa.parse("i want to pay my bill")
    assert (result.intent, result.engine) == ("make_payment", "embedded")
    assert len(stub.sent) == calls  # an open circuit sends nothing
    assert fallbacks("timeout") == before_timeout + 3
    assert fallbacks("circuit_open") == before_open + 1


async def test_half_open_trial_closes_the_breaker_when_rasa_is_back(
    rasa: RasaNlu, stub: RasaStub, clock: FakeClock
) -> None:
    stub.fail = httpx.ConnectError("refused")
    for _ in range(3):
        await rasa.parse("hi")
    assert rasa.breaker.state is BreakerState.OPEN
    clock.now += 31
    assert rasa.breaker.state is BreakerState.HALF_OPEN
    stub.fail = None
    assert (await rasa.parse("power's out")).engine == "rasa"
    assert rasa.breaker.state is BreakerState.CLOSED


async def test_failed_half_open_trial_reopens_for_another_cool_down(
    rasa: RasaNlu, stub: RasaStub, clock: FakeClock
) -> None:
    stub.status = 500
    for _ in range(3):
        await rasa.parse("hi")
    clock.now += 31
    assert (await rasa.parse("hi")).engine == "embedded"
    assert rasa.breaker.state is BreakerState.OPEN
    clock.now += 29
    assert rasa.breaker.state is BreakerState.OPEN


def test_half_open_lets_one_trial_through_at_a_time(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failure_threshold=1, reset_after=5.0, clock=clock)
    breaker.record_failure()
    assert not breaker.allow()
    clock.now += 5
    assert breaker.allow()
    assert not breaker.allow()
    breaker.record_success()
    assert breaker.allow() and breaker.allow()


def test_a_success_resets_the_failure_count(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failure_threshold=2, clock=clock)
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED


class RecordingEngine:
    """An engine that answers like embedded would and notes it was asked."""

    name = "recording"

    def __init__(self, inner: EmbeddedNlu) -> None:
        self.inner = inner
        self.asked: list[str] = []

    async def parse(self, text: str, *, language: str | None = None) -> NluResult:
        self.asked.append(text)
        return await self.inner.parse(text, language=language)


@pytest.mark.parametrize(
    ("text", "channel", "intent", "engine"),
    [
        ("OUT", "sms", "report_outage", "keywords"),
        ("OUT", "webchat", "report_outage", "keywords"),  # an exact command counts anywhere
        ("otu", "sms", "report_outage", "keywords"),
        ("OUT home", "whatsapp", "report_outage", "keywords"),
        ("STOP", "sms", "opt_out", "keywords"),
        ("no power since noon", "sms", "report_outage", "embedded"),
        ("otu", "webchat", None, "embedded"),  # typos are trusted only on a short code
        ("STOP", "webchat", None, "embedded"),  # carrier words mean nothing off SMS
    ],
)
async def test_pipeline_tiers(embedded: EmbeddedNlu, text: str, channel: str,
                              intent: str | None, engine: str) -> None:
    recording = RecordingEngine(embedded)
    result = await Nlu(recording).parse(text, channel=channel)
    assert result.engine == engine
    assert (recording.asked == [text]) == (engine == "embedded")
    if intent is not None:
        assert result.intent == intent
    else:
        assert result.intent != "opt_out"


async def test_pipeline_passes_conversation_state_to_the_grammar(embedded: EmbeddedNlu) -> None:
    nlu = Nlu(embedded)
    assert (await nlu.parse("YES", channel="sms", opted_out=True)).intent == "opt_in"
    assert (await nlu.parse("YES", channel="sms")).intent == "affirm"
    assert (await nlu.parse("OFF", channel="sms", after_restoration=True)).nested


async def test_pipeline_with_rasa_url_uses_rasa_then_embedded(stub: RasaStub) -> None:
    client = httpx.AsyncClient(transport=httpx.MockTransport(stub))
    nlu = Nlu.create(rasa_url=RASA_URL, client=client)
    assert (await nlu.parse("no power at 12 Elm St", channel="webchat")).engine == "rasa"
    stub.fail = httpx.ConnectError("down")
    assert (await nlu.parse("no power at 12 Elm St", channel="webchat")).engine == "embedded"
    await nlu.aclose()
    await client.aclose()


def test_pipeline_without_rasa_is_embedded() -> None:
    assert Nlu.create().engine.name == "embedded"


async def test_pipeline_follows_rasa_url_setting() -> None:
    from core.config import Settings

    assert Nlu.from_settings(Settings(rasa_url=None)).engine.name == "embedded"
    nlu = Nlu.from_settings(Settings(RASA_URL="http://rasa.internal:5005"))
    assert nlu.engine.name == "rasa" and nlu.engine.url == "http://rasa.internal:5005"
    await nlu.aclose()
