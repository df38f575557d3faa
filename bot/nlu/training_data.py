"""Reads Rasa's NLU YAML (the one source of training data) without needing Rasa installed."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

RASA_PROJECT = Path(__file__).resolve().parent.parent / "rasa"
TRAINING_FILE = RASA_PROJECT / "data" / "nlu.yml"
HELDOUT_FILE = RASA_PROJECT / "tests" / "heldout_nlu.yml"

# [shown text](entity), [shown text](entity:value), [shown text]{"entity": "...", ...}
_ANNOTATION = re.compile(r"\[(?P<text>[^\]]+)\](?:\((?P<short>[^)]+)\)|(?P<json>\{[^}]*\}))")


@dataclass(frozen=True, slots=True)
class AnnotatedEntity:
    type: str
    value: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Example:
    """One training or test utterance with its intent and the entities annotated in it."""

    text: str
    intent: str
    entities: tuple[AnnotatedEntity, ...] = ()


def load_examples(path: Path | str) -> list[Example]:
    """Every `- intent:` block of a Rasa NLU YAML file, annotations stripped to plain text."""
    document = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    examples: list[Example] = []
    for block in document.get("nlu") or []:
        intent = block.get("intent")
        if not intent:
            continue  # regex, synonym and lookup blocks feed Rasa's featurizers only
        for line in _example_lines(block.get("examples", "")):
            examples.append(parse_annotated(line, intent))
    return examples


def _example_lines(raw: str | list[object]) -> list[str]:
    if isinstance(raw, list):  # the long form: examples as a list of {text: ...}
        return [str(item["text"] if isinstance(item, dict) else item).strip() for item in raw]
    return [line.strip()[2:].strip() for line in raw.splitlines() if line.strip().startswith("- ")]


def parse_annotated(line: str, intent: str) -> Example:
    """'pay [$50](amount)' → Example('pay $50', intent, (amount '$50' at 4–7,))."""
    text_parts: list[str] = []
    entities: list[AnnotatedEntity] = []
    cursor = 0
    length = 0
    for m in _ANNOTATION.finditer(line):
        before = line[cursor:m.start()]
        text_parts.append(before)
        length += len(before)
        shown = m.group("text")
        entity_type, value = _entity_of(m, shown)
        entities.append(AnnotatedEntity(entity_type, value, length, length + len(shown)))
        text_parts.append(shown)
        length += len(shown)
        cursor = m.end()
    text_parts.append(line[cursor:])
    return Example("".join(text_parts), intent, tuple(entities))


def _entity_of(m: re.Match[str], shown: str) -> tuple[str, str]:
    if m.group("json"):
        data = json.loads(m.group("json"))
        return str(data["entity"]), str(data.get("value", shown))
    entity_type, _, value = m.group("short").partition(":")
    return entity_type.strip(), (value.strip() or shown)
