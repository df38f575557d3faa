"""The embedded classifier, the shared training data and the rule entities."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import yaml

from bot.nlu.base import INTENTS, NluEngine
from bot.nlu.embedded import EmbeddedNlu, default_engine
from bot.nlu.entities import extract_entities
from bot.nlu.evaluate import evaluate, render
from bot.nlu.text import words
from bot.nlu.training_data import (
    HELDOUT_FILE,
    RASA_PROJECT,
    TRAINING_FILE,
    load_examples,
    parse_annotated,
)

MIN_TRAINING_EXAMPLES = 30
MIN_HELDOUT_EXAMPLES = 8
REQUIRED_ACCURACY = 0.85


@pytest.fixture(scope="module")
def engine() -> EmbeddedNlu:
    return default_engine()


def test_training_data_covers_exactly_the_domain_intents() -> None:
    examples = load_examples(TRAINING_FILE)
    counts = {intent: sum(e.intent == intent for e in examples) for intent in INTENTS}
    assert {e.intent for e in examples} == set(INTENTS)
    assert min(counts.values()) >= MIN_TRAINING_EXAMPLES, counts


def test_heldout_file_is_apart_from_training_data() -> None:
    train = {" ".join(words(e.text)) for e in load_examples(TRAINING_FILE)}
    heldout = load_examples(HELDOUT_FILE)
    assert {e.intent for e in heldout} == set(INTENTS)
    assert all(sum(e.intent == i for e in heldout) >= MIN_HELDOUT_EXAMPLES for i in INTENTS)
    assert [e.text for e in heldout if " ".join(words(e.text)) in train] == []


def test_rasa_domain_declares_every_intent_and_annotated_entity() -> None:
    domain = yaml.safe_load((RASA_PROJECT / "domain.yml").read_text())
    assert domain["intents"] == list(INTENTS)
    annotated = {ent.type for e in load_examples(TRAINING_FILE) for ent in e.entities}
    assert annotated <= set(domain["entities"])


def test_annotations_are_stripped_to_plain_text() -> None:
    example = parse_annotated('pay [$50](amount) on [friday]{"entity": "date"} at [home](premise_nickname:home)', "make_payment")
    assert example.text == "pay $50 on friday at home"
    assert [(e.type, example.text[e.start:e.end]) for e in example.entities] == [
        ("amount", "$50"), ("date", "friday"), ("premise_nickname", "home")]


async def test_heldout_accuracy(engine: EmbeddedNlu) -> None:
    report = await evaluate(engine, load_examples(HELDOUT_FILE))
    print(render([report]))  # the numbers, for whoever reads the test log
    assert report.accuracy >= REQUIRED_ACCURACY
    assert report.macro_f1 >= REQUIRED_ACCURACY
    # Calibrated: stated confidence is within a few points of how often it is right.
    assert report.expected_calibration_error < 0.1
    assert sum(report.confusion.values()) == report.examples


def test_engine_satisfies_the_port(engine: EmbeddedNlu) -> None:
    assert isinstance(engine, NluEngine)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("my powers out since like 2am", "report_outage"),
        ("pwr out on elm st", "report_outage"),
        ("when is the power gonna be back", "outage_status"),
        ("theres a wire down sparking in the road", "report_hazard"),
        ("how much do i owe right now", "check_balance"),
        ("i need to pay my bill today", "make_payment"),
        ("i cant pay the whole thing can i do a plan", "payment_arrangement"),
        ("im moving out end of the month", "stop_service"),
        ("my bill is crazy high this month why", "billing_question"),
        ("let me talk to a real person", "talk_to_agent"),
    ],
)
async def test_everyday_english(engine: EmbeddedNlu, text: str, intent: str) -> None:
    result = await engine.parse(text)
    assert result.intent == intent
    assert result.engine == "embedded"


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("se fue la luz en mi casa", "report_outage"),
        ("cuándo vuelve la luz?", "outage_status"),
        ("huele mucho a gas", "report_hazard"),
        ("cuánto debo de mi factura", "check_balance"),
        ("quiero hacer un pago", "make_payment"),
        ("quiero hablar con un agente", "talk_to_agent"),
        ("muchas gracias", "thanks"),
    ],
)
async def test_spanish(engine: EmbeddedNlu, text: str, intent: str) -> None:
    result = await engine.parse(text)
    assert result.intent == intent
    assert result.language == "es"


@pytest.mark.parametrize("text", ["asdfgh jkl", "xyzzy plugh", "🙂🙂🙂", "", "what's the capital of peru",
                                  "tell me a story about dragons"])
async def test_nonsense_is_out_of_scope(engine: EmbeddedNlu, text: str) -> None:
    assert (await engine.parse(text)).intent == "out_of_scope"


async def test_threshold_turns_weak_guesses_into_out_of_scope(engine: EmbeddedNlu) -> None:
    text = "is there a way to pay over time"
    relaxed = await engine.parse(text)
    strict = await EmbeddedNlu(engine.classifier, threshold=0.999).parse(text)
    assert relaxed.intent != "out_of_scope"
    assert strict.intent == "out_of_scope"
    assert strict.ranking[0].intent == relaxed.intent  # the ranking still shows the guess


async def test_confidences_are_probabilities(engine: EmbeddedNlu) -> None:
    result = await engine.parse("no power at my house")
    assert 0.0 <= result.confidence <= 1.0
    assert result.ranking[0].confidence >= result.ranking[-1].confidence


TODAY = date(2025, 5, 20)  # a Tuesday


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("pay $120.50", "amount", Decimal("120.50")),
        ("i can pay 75 dollars", "amount", Decimal("75.00")),
        ("pay $1,204.5", "amount", Decimal("1204.50")),
        ("start on June 1", "date", date(2025, 6, 1)),
        ("stop service 2025-07-04", "date", date(2025, 7, 4)),
        ("can i pay on friday", "date", date(2025, 5, 23)),
        ("I get paid the 15th", "date", date(2025, 6, 15)),
        ("el 3 de marzo", "date", date(2026, 3, 3)),
        ("mañana", "date", date(2025, 5, 21)),
        ("tomorrow", "date", date(2025, 5, 21)),
        ("call me at (217) 555-0142", "phone", "+12175550142"),
        ("my cell is 2175550142", "phone", "+12175550142"),
        ("+44 20 7946 0958", "account_number", None),
        ("account 40098812", "account_number", "40098812"),
        ("acct # 4009881234", "account_number", "4009881234"),
        ("zip 62704", "zip_code", "62704"),
        ("62704-1234", "zip_code", "62704-1234"),
        ("outage at 4411 Oak Ave.", "address", "4411 Oak Ave"),
        ("moving to 45 N Pine Rd apt 4", "address", "45 N Pine Rd apt 4"),
        ("lights out at my rental", "premise_nickname", "rental"),
    ],
)
def test_entities(text: str, kind: str, value: object) -> None:
    found = [e for e in extract_entities(text, today=TODAY) if e.type == kind]
    if value is None:
        assert found == [] or all(e.value != text for e in found)
        return
    assert [e.value for e in found] == [value]


def test_entity_spans_point_into_the_text() -> None:
    text = "pay $50 for account 40098812 by June 1"
    for entity in extract_entities(text, today=TODAY):
        assert text[entity.start:entity.end] == entity.text


def test_a_card_number_is_an_entity_only_in_masked_form() -> None:
    text = "here is my card 4111 1111 1111 1111 charge $50"
    entities = extract_entities(text, today=TODAY)
    card = next(e for e in entities if e.type == "card_number")
    assert card.value == card.text == "•••• •••• •••• 1111"
    assert all("4111 1111" not in str(e.value) for e in entities)
    assert not any(e.type in ("phone", "account_number") for e in entities)
