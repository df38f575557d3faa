"""Tier 2: the classifier that ships inside the process, trained at start-up from the Rasa
project's nlu.yml. No server, no model file: it is the default and the fallback for Rasa."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import date
from functools import lru_cache
from pathlib import Path

import structlog

from bot.nlu.base import OUT_OF_SCOPE, IntentScore, NluResult
from bot.nlu.classifier import IntentClassifier
from bot.nlu.entities import extract_entities
from bot.nlu.language import detect_language
from bot.nlu.training_data import TRAINING_FILE, load_examples

log = structlog.get_logger(__name__)

DEFAULT_THRESHOLD = 0.4
RANKING_SIZE = 5


class EmbeddedNlu:
    """Intent by the in-process classifier, entities by rules; below `threshold` the answer is
    out_of_scope, so a flow asks again instead of acting on a guess."""

    name = "embedded"

    def __init__(self, classifier: IntentClassifier, *, threshold: float = DEFAULT_THRESHOLD,
                 today: Callable[[], date] = date.today) -> None:
        self.classifier = classifier
        self.threshold = threshold
        self._today = today

    @classmethod
    def train(cls, path: Path | str = TRAINING_FILE, *, threshold: float = DEFAULT_THRESHOLD,
              today: Callable[[], date] = date.today) -> EmbeddedNlu:
        """Read a Rasa NLU YAML file and fit the classifier (well under a second)."""
        started = time.perf_counter()
        examples = load_examples(path)
        classifier = IntentClassifier([e.text for e in examples], [e.intent for e in examples])
        log.info("nlu.embedded.trained", examples=len(examples), intents=len(classifier.intents),
                 features=classifier.vectorizer.size, ridge=classifier.fit.ridge,
                 temperature=round(classifier.fit.temperature, 4),
                 seconds=round(time.perf_counter() - started, 3))
        return cls(classifier, threshold=threshold, today=today)

    def classify(self, text: str, *, language: str | None = None) -> NluResult:
        """The synchronous core of parse: pure CPU, a fraction of a millisecond."""
        probabilities, known = self.classifier.probabilities(text)
        order = probabilities.argsort()[::-1]
        intents = self.classifier.intents
        ranking = tuple(IntentScore(intents[i], round(float(probabilities[i]), 4))
                        for i in order[:RANKING_SIZE])
        top, confidence = ranking[0].intent, float(probabilities[order[0]])
        if not known or (top != OUT_OF_SCOPE and confidence < self.threshold):
            # Nothing we recognise, or no intent stands out: "none of the above" is the answer.
            top, confidence = OUT_OF_SCOPE, (1.0 if not known else 1.0 - confidence)
        return NluResult(
            intent=top,
            confidence=round(confidence, 4),
            entities=extract_entities(text, today=self._today()),
            engine=self.name,
            ranking=ranking,
            language=language or detect_language(text),
        )

    async def parse(self, text: str, *, language: str | None = None) -> NluResult:
        return self.classify(text, language=language)


@lru_cache(maxsize=4)
def _cached(path: str, threshold: float) -> EmbeddedNlu:
    return EmbeddedNlu.train(path, threshold=threshold)


def default_engine(path: Path | str = TRAINING_FILE,
                   threshold: float = DEFAULT_THRESHOLD) -> EmbeddedNlu:
    """One trained engine per process and training file: training again per request is waste."""
    return _cached(str(path), threshold)


async def default_engine_async(path: Path | str = TRAINING_FILE,
                               threshold: float = DEFAULT_THRESHOLD) -> EmbeddedNlu:
    """Train off the event loop at start-up, so a server answers health checks meanwhile."""
    return await asyncio.to_thread(default_engine, path, threshold)
