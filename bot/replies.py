"""Replies from templates an operator can edit without touching code.

Templates live in `bot/templates/<lang>.yml`; a utility overrides any key by putting a file of
the same name in STORMDESK_TEMPLATES_DIR. Each key has a default `text` and optional per-channel
variants: `sms` (short), `voice` (speakable: no URLs read out, no symbols), `webchat` (richer).
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

BUILTIN = Path(__file__).parent / "templates"
LANGUAGES = ("en", "es")


@dataclass(frozen=True, slots=True)
class Reply:
    """What the bot says: rendered text, plus choices a rich channel may show as buttons."""

    key: str
    text: str
    quick_replies: tuple[str, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)


class _Strict(string.Formatter):
    def get_value(self, key: Any, args: Any, kwargs: dict[str, Any]) -> Any:
        if isinstance(key, str) and key not in kwargs:
            raise KeyError(f"template variable {{{key}}} not supplied")
        return super().get_value(key, args, kwargs)


_FORMATTER = _Strict()


@lru_cache(maxsize=8)
def _catalog(language: str, override_dir: str | None) -> dict[str, dict[str, str]]:
    merged: dict[str, dict[str, str]] = {}
    for folder in (BUILTIN, Path(override_dir) if override_dir else None):
        if folder is None:
            continue
        path = folder / f"{language}.yml"
        if path.exists():
            for key, entry in (yaml.safe_load(path.read_text("utf-8")) or {}).items():
                merged[key] = {"text": entry} if isinstance(entry, str) else dict(entry)
    return merged


class Templates:
    def __init__(self, override_dir: str | Path | None = None) -> None:
        self.override_dir = str(override_dir) if override_dir else None

    def keys(self, language: str = "en") -> set[str]:
        return set(_catalog(language, self.override_dir))

    def render(
        self,
        key: str,
        *,
        language: str = "en",
        channel: str = "sms",
        quick_replies: tuple[str, ...] = (),
        **values: Any,
    ) -> Reply:
        lang = language if language in LANGUAGES else "en"
        entry = _catalog(lang, self.override_dir).get(key) or _catalog("en", self.override_dir)[key]
        variant = "sms" if channel == "whatsapp" else channel
        template = entry.get(variant) or entry["text"]
        text = _FORMATTER.format(template, **values).strip()
        return Reply(key=key, text=text, quick_replies=quick_replies, data=dict(values))
