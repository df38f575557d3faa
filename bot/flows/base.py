"""What every flow gets: a context to speak, ask, hand off, and read the customer's answer.

How to write a flow: a module in bot/flows with NAME, INTENTS (the intents that start it),
`async def start(ctx)` and `async def resume(ctx) -> bool`. `resume` returns False when the
answer doesn't fit the question, so the engine can treat it as a change of mind or a
misunderstanding. Flows flush through core services; they never commit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.replies import Reply, Templates
from bot.sentiment import sentiment
from bot.state import DialogueState
from bot.turn import BotResult, Turn
from core.conversations.schemas import Handoff

_YES = {"yes", "y", "yeah", "yep", "yup", "sure", "ok", "okay", "correct", "right", "si", "sí",
        "s", "claro", "1", "affirmative", "confirm", "please do", "do it", "absolutely"}
_NO = {"no", "n", "nope", "nah", "negative", "not", "cancel", "2", "no gracias", "nel",
       "no thanks", "don't", "dont"}


def yes_no(text: str, intent: str | None = None) -> bool | None:
    """True/False for a clear yes/no (words or the NLU's affirm/deny), else None."""
    clean = re.sub(r"[^\w\sáéíóúñ']", " ", text.lower()).strip()
    if clean in _YES or intent == "affirm":
        return True
    if clean in _NO or intent == "deny":
        return False
    words = clean.split()
    if words and words[0] in _YES and len(words) <= 4:
        return True
    if words and words[0] in _NO and len(words) <= 4:
        return False
    return None


def pick_choice(text: str, choices: list[dict[str, Any]]) -> dict[str, Any] | None:
    """A numbered choice by number ("2"), by nickname ("home"), or by a word of its label."""
    clean = text.strip().lower().rstrip(".")
    digits = re.fullmatch(r"#?\s*(\d{1,2})", clean)
    if digits:
        index = int(digits.group(1)) - 1
        return choices[index] if 0 <= index < len(choices) else None
    for choice in choices:
        nickname = (choice.get("nickname") or "").lower()
        if nickname and (clean == nickname or clean.endswith(" " + nickname)):
            return choice
    matches = [c for c in choices if clean and clean in str(c.get("label", "")).lower()]
    return matches[0] if len(matches) == 1 else None


@dataclass
class FlowContext:
    turn: Turn
    result: BotResult
    templates: Templates
    intent: str
    confidence: float
    entities: dict[str, Any]

    @property
    def state(self) -> DialogueState:
        return self.turn.state

    @property
    def language(self) -> str:
        return self.turn.state.language or "en"

    @property
    def session(self) -> AsyncSession:
        return self.turn.session

    def common(self) -> dict[str, Any]:
        s = self.turn.settings
        return {"utility": s.utility_name, "utility_phone": s.utility_phone}

    def render(self, key: str, **values: Any) -> Reply:
        return self.templates.render(
            key, language=self.language, channel=self.turn.channel, **{**self.common(), **values}
        )

    def say(self, key: str, *, quick_replies: tuple[str, ...] = (), **values: Any) -> None:
        reply = self.templates.render(
            key, language=self.language, channel=self.turn.channel,
            quick_replies=quick_replies, **{**self.common(), **values},
        )
        self.result.replies.append(reply)

    def text(self, key: str, **values: Any) -> str:
        return self.render(key, **values).text

    def handoff(self, *, reason: str, skill: str, priority: int = 1) -> Handoff:
        state = self.turn.state
        summary = f"{reason}: intent {self.intent or state.flow or 'unknown'}"
        if state.slots:
            shown = {k: v for k, v in state.slots.items() if not str(k).startswith("_")}
            summary += f"; collected {shown}"
        handoff = Handoff(
            reason=reason, skill=skill, priority=priority,
            summary={
                "text": summary, "intent": state.flow or self.intent,
                "slots": {k: v for k, v in state.slots.items() if not str(k).startswith("_")},
                "verification": state.verification,
                "verified_account_id": state.verified_account_id,
                "sentiment": sentiment(self.turn.text), "language": self.language,
            },
        )
        self.result.handoff = handoff
        state.handed_off = True
        return handoff


def ask(ctx: FlowContext, key: str, *, step: str, expecting: str,
        quick_replies: tuple[str, ...] = (), **values: Any) -> None:
    """Ask a question and remember it, so a misunderstanding can repeat it word for word."""
    reply = ctx.render(key, **values)
    ctx.result.replies.append(
        Reply(key=reply.key, text=reply.text, quick_replies=quick_replies, data=reply.data)
    )
    ctx.state.step = step
    ctx.state.expecting = expecting
    ctx.state.slots["_prompt"] = reply.text
