"""The NLU the bot calls: keyword grammar first, then Rasa when configured, else embedded."""

from __future__ import annotations

import httpx

from bot.nlu.base import NluEngine, NluResult
from bot.nlu.breaker import CircuitBreaker
from bot.nlu.embedded import DEFAULT_THRESHOLD, default_engine
from bot.nlu.keywords import parse_keyword
from bot.nlu.rasa_client import DEFAULT_TIMEOUT, RasaNlu
from core.config import Settings
from core.enums import Channel

# Short codes are where customers text commands; elsewhere "stop" or "pay" is just a word.
KEYWORD_CHANNELS = frozenset({Channel.SMS.value, Channel.WHATSAPP.value})


class Nlu:
    """One entry point for the bot. On SMS/WhatsApp every keyword form counts (typos, arguments,
    carrier STOP/START words); on other channels only an exact command word ("OUT", "BAL")."""

    name = "pipeline"

    def __init__(self, engine: NluEngine) -> None:
        self.engine = engine

    @classmethod
    def create(cls, *, rasa_url: str | None = None, threshold: float = DEFAULT_THRESHOLD,
               timeout: float = DEFAULT_TIMEOUT, breaker: CircuitBreaker | None = None,
               client: httpx.AsyncClient | None = None) -> Nlu:
        """Embedded engine by default; with a Rasa URL, Rasa with the embedded engine behind it."""
        embedded = default_engine(threshold=threshold)
        if not rasa_url:
            return cls(embedded)
        return cls(RasaNlu(rasa_url, fallback=embedded, timeout=timeout, breaker=breaker,
                           client=client))

    @classmethod
    def from_settings(cls, settings: Settings, **options: object) -> Nlu:
        """RASA_URL unset means the embedded default (ARCHITECTURE.md "two ways to run")."""
        return cls.create(rasa_url=settings.rasa_url, **options)  # type: ignore[arg-type]

    async def parse(self, text: str, *, language: str | None = None, channel: str | None = None,
                    opted_out: bool = False, after_restoration: bool = False) -> NluResult:
        """`opted_out`: the sender is opted out (so YES means opt back in); `after_restoration`:
        a restoration notice was the last thing we sent (so OFF is a nested outage)."""
        match = parse_keyword(text, opted_out=opted_out, after_restoration=after_restoration)
        if match is not None and (
            str(channel) in KEYWORD_CHANNELS or (match.exact and not match.carrier)
        ):
            return match.result
        return await self.engine.parse(text, language=language)

    async def aclose(self) -> None:
        close = getattr(self.engine, "aclose", None)
        if close is not None:
            await close()
