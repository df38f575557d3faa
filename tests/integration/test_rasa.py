"""The real Rasa 3.6 project, end to end: build its Python 3.10 env, train the NLU model (cached
by content hash), serve it, check the client on held-out utterances, then stop Rasa and check
the bot falls back to the embedded engine with the breaker open. Slow: marked `rasa`."""

from __future__ import annotations

import fcntl
import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from prometheus_client import REGISTRY

from bot.nlu.breaker import BreakerState, CircuitBreaker
from bot.nlu.embedded import default_engine
from bot.nlu.evaluate import evaluate, run_eval_async
from bot.nlu.rasa_client import RasaNlu
from bot.nlu.training_data import HELDOUT_FILE, load_examples
from tests.bot_helpers import Phone, persona, seeded_utility

# One worker serves all four (`--dist loadgroup`): the server is a module fixture.
pytestmark = [pytest.mark.rasa, pytest.mark.timeout(1800), pytest.mark.xdist_group("rasa")]

ROOT = Path(__file__).resolve().parents[2]
RASA_MIN_ACCURACY = 0.80
CLEAR_CASES = {
    "our power just went out": "report_outage",
    "i can smell gas in my house": "report_hazard",
    "what's my current balance": "check_balance",
    "i want to make a payment": "make_payment",
    "can i set up a payment plan": "payment_arrangement",
    "i want to talk to a person": "talk_to_agent",
    "i have a water leak": "report_leak",
    "i need a meter reread": "meter_reread",
}


def _load_tooling() -> ModuleType:
    spec = importlib.util.spec_from_file_location("rasa_model", ROOT / "scripts" / "rasa_model.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["rasa_model"] = module
    spec.loader.exec_module(module)
    return module


tooling = _load_tooling()
# scripts/rasa_env.sh starts a half-built venv over (rm -rf): two builders at once (xdist
# workers, or another run on this machine) would wreck each other's. One at a time, here.
RASA_VENV = Path(os.environ.get("STORMDESK_RASA_VENV", Path.home() / ".cache/stormdesk/rasa"))


def _env_and_model() -> tuple[Path, Path, float]:
    RASA_VENV.parent.mkdir(parents=True, exist_ok=True)
    with RASA_VENV.with_name(RASA_VENV.name + ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        venv = tooling.ensure_env()
        model, seconds = tooling.train(venv)  # the trained model's cache is shared too
    return venv, model, seconds


@pytest.fixture(scope="module")
def rasa_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    try:
        venv, model, seconds = _env_and_model()
    except tooling.NoPython310 as exc:
        pytest.skip(f"Rasa 3.6 needs Python 3.10 and none was found ({exc})")
    print(f"rasa model {model.name}: {'from cache' if not seconds else f'trained in {seconds:.0f}s'}")
    with tooling.serve(venv, model, log_dir=tmp_path_factory.mktemp("rasa")) as server:
        yield server


def fallbacks(reason: str) -> float:
    return REGISTRY.get_sample_value("stormdesk_nlu_fallback_total", {"reason": reason}) or 0.0


async def test_rasa_recognises_heldout_utterances(rasa_server: tooling.RasaServer) -> None:
    rasa = RasaNlu(rasa_server.url, fallback=default_engine(), timeout=10.0)
    try:
        for text, intent in CLEAR_CASES.items():
            result = await rasa.parse(text)
            assert (result.engine, result.intent) == ("rasa", intent), text
        report = await evaluate(rasa, load_examples(HELDOUT_FILE))
    finally:
        await rasa.aclose()
    assert report.engines_used == {"rasa": report.examples}  # no answer came from the fallback
    print(f"rasa held-out accuracy {report.accuracy:.3f}, macro F1 {report.macro_f1:.3f}")
    assert report.accuracy >= RASA_MIN_ACCURACY


async def test_eval_puts_rasa_beside_embedded(rasa_server: tooling.RasaServer) -> None:
    reports, text = await run_eval_async(HELDOUT_FILE, rasa_server.url)
    assert [r.engine for r in reports] == ["embedded", "rasa"]
    print(text)
    assert "rasa F1" in text and "embedded F1" in text


async def test_bot_flows_run_on_rasa(rasa_server: tooling.RasaServer, sqlite_url: str) -> None:
    """The conversation tests' flows, with RASA_URL set: Rasa understands, the bot acts."""
    before = sum(fallbacks(r) for r in ("error", "timeout", "circuit_open"))
    async with seeded_utility(sqlite_url, rasa_url=rasa_server.url) as harness:
        dana = Phone(harness, persona("resident").phone)
        (question,) = await dana.text("our power just went out")
        assert "downed wire" in question
        (filed,) = await dana.text("no")
        assert "reported" in filed
        tanya = Phone(harness, persona("past_due").phone)
        (ask,) = await tanya.text("what's my current balance")
        assert "account number" in ask
        (balance,) = await tanya.text(persona("past_due").account_number)
        assert "balance $" in balance
        replies = await tanya.text("i want to talk to a person")
        assert any("in line" in r for r in replies)
        assert (await tanya.conversation()).owner == "queued"
    # Every turn was understood by Rasa itself: the embedded fallback never answered.
    assert sum(fallbacks(r) for r in ("error", "timeout", "circuit_open")) == before


async def test_stopped_rasa_falls_back_to_embedded_with_the_breaker_open(
    rasa_server: tooling.RasaServer,
) -> None:
    breaker = CircuitBreaker(failure_threshold=2, reset_after=600.0)
    rasa = RasaNlu(rasa_server.url, fallback=default_engine(), timeout=5.0, breaker=breaker)
    try:
        assert (await rasa.parse("our power just went out")).engine == "rasa"
        rasa_server.stop()
        before_error, before_open = fallbacks("error"), fallbacks("circuit_open")
        for _ in range(2):
            result = await rasa.parse("our power just went out")
            assert (result.engine, result.intent) == ("embedded", "report_outage")
        assert breaker.state is BreakerState.OPEN
        result = await rasa.parse("i want to make a payment")
        assert (result.engine, result.intent) == ("embedded", "make_payment")
        assert fallbacks("error") == before_error + 2
        assert fallbacks("circuit_open") == before_open + 1
    finally:
        await rasa.aclose()
