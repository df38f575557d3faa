"""Tier 3: a Rasa server's /model/parse, behind a circuit breaker that falls back to the
embedded engine, so the bot keeps answering while Rasa is down, slow or being redeployed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import httpx
import structlog
from prometheus_client import Counter

from bot.nlu.base import INTENTS, OUT_OF_SCOPE, Entity, IntentScore, NluEngine, NluResult
from bot.nlu.breaker import CircuitBreaker
from bot.nlu.entities import extract_entities
from bot.nlu.language import detect_language
from core.pii import mask_card_numbers

log = structlog.get_logger(__name__)

NLU_FALLBACKS = Counter(
    "stormdesk_nlu_fallback_total",
    "NLU requests answered by the embedded engine because Rasa could not answer",
    ["reason"],
)
DEFAULT_TIMEOUT = 1.5
# Rasa's FallbackClassifier names its low-confidence answer this; to our flows it is out_of_scope.
RASA_FALLBACK_INTENT = "nlu_fallback"


class RasaNlu:
    """Asks a Rasa server; on timeout, error or an open circuit, asks `fallback` instead and
    says so in NluResult.engine ("embedded"), a log line and a Prometheus counter."""

    name = "rasa"

    def __init__(self, url: str, *, fallback: NluEngine, timeout: float = DEFAULT_TIMEOUT,
                 breaker: CircuitBreaker | None = None, client: httpx.AsyncClient | None = None,
                 today: Callable[[], date] = date.today) -> None:
        self.url = url.rstrip("/")
        self.fallback = fallback
        self.timeout = timeout
        self.breaker = breaker or CircuitBreaker()
        self._client = client or httpx.AsyncClient(timeout=timeout)
        self._owns_client = client is None
        self._today = today

    async def parse(self, text: str, *, language: str | None = None) -> NluResult:
        if not self.breaker.allow():
            return await self._fall_back(text, language, "circuit_open")
        try:
            # A card number must never leave the process, not even to our own Rasa server.
            response = await self._client.post(
                f"{self.url}/model/parse", json={"text": mask_card_numbers(text)},
                timeout=self.timeout,
            )
            response.raise_for_status()
            payload = response.json()
        except httpx.TimeoutException:
            self.breaker.record_failure()
            return await self._fall_back(text, language, "timeout")
        except (httpx.HTTPError, ValueError) as exc:
            self.breaker.record_failure()
            return await self._fall_back(text, language, "error", error=type(exc).__name__)
        self.breaker.record_success()
        return self._result(payload, text, language)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def _fall_back(self, text: str, language: str | None, reason: str,
                         **details: Any) -> NluResult:
        NLU_FALLBACKS.labels(reason=reason).inc()
        log.warning("nlu.rasa.fallback", reason=reason, rasa_url=self.url,
                    breaker=self.breaker.state.value, **details)
        return await self.fallback.parse(text, language=language)

    def _result(self, payload: dict[str, Any], text: str, language: str | None) -> NluResult:
        intent_info = payload.get("intent") or {}
        intent = _known(str(intent_info.get("name") or OUT_OF_SCOPE))
        ranking = tuple(
            IntentScore(_known(str(item.get("name"))), round(float(item.get("confidence", 0.0)), 4))
            for item in payload.get("intent_ranking") or []
        )
        return NluResult(
            intent=intent,
            confidence=round(float(intent_info.get("confidence") or 0.0), 4),
            entities=_merge_entities(extract_entities(text, today=self._today()),
                                     payload.get("entities") or []),
            engine=self.name,
            ranking=ranking,
            language=language or detect_language(text),
        )


def _known(intent: str) -> str:
    """An intent outside DOMAIN.md's table (nlu_fallback, a stale model's) is out_of_scope."""
    return intent if intent in INTENTS else OUT_OF_SCOPE


def _merge_entities(rules: tuple[Entity, ...], rasa: list[dict[str, Any]]) -> tuple[Entity, ...]:
    """Rule entities carry typed values and win; Rasa adds what no rule found (addresses, names)."""
    merged = list(rules)
    for item in rasa:
        start, end = int(item.get("start", -1)), int(item.get("end", -1))
        if any(not (end <= e.start or start >= e.end) for e in rules):
            continue
        merged.append(Entity(str(item.get("entity")), item.get("value"), start, end,
                             str(item.get("value", ""))))
    return tuple(sorted(merged, key=lambda e: e.start))
