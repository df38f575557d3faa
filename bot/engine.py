"""The bot: understand the turn, then start, continue or leave a flow.

Order of precedence, so a customer is never trapped in a flow:
1. emergencies (safety text first, then a priority person), 2. "a person, please" or anger,
3. the answer to the question we asked, 4. a new confident request (a change of mind),
5. otherwise a misunderstanding; the second in a row goes to a person.
"""

from __future__ import annotations

import re
from types import ModuleType
from typing import Any, Protocol

from bot.flows import emergency, handoff, smalltalk
from bot.flows.base import FlowContext
from bot.language import guess_language
from bot.replies import Templates
from bot.sentiment import sentiment
from bot.turn import BotResult, Turn

# Below this, a new intent in the middle of a flow is not taken as a change of mind.
SWITCH_CONFIDENCE = 0.6
# Intents that are answers, not requests: they never switch flows by themselves.
ANSWER_INTENTS = {"affirm", "deny", "out_of_scope", "greet", "thanks"}
# Handled before the bot by the channel's compliance layer.
COMPLIANCE_INTENTS = {"opt_out", "opt_in"}
MAX_MISUNDERSTANDINGS = 2


HAZARD_CONFIDENCE = 0.75
_HAZARD_WORDS = re.compile(
    r"\b(wire|line|lines|pole|spark\w*|fire|smoke|burn\w*|gas|smell\w*|odor|flood\w*|"
    r"main|geyser|explo\w*|danger\w*|hazard|cable|chispa\w*|fuego|humo|huele|olor|gas|"
    r"inund\w*|poste|peligro)\b", re.IGNORECASE)


def _credible_hazard(text: str, confidence: float) -> bool:
    return confidence >= HAZARD_CONFIDENCE or bool(_HAZARD_WORDS.search(text))


class Understanding(Protocol):
    intent: str
    confidence: float
    entities: Any


class NluPort(Protocol):
    async def parse(self, text: str, **context: Any) -> Understanding: ...


def entities_dict(entities: Any) -> dict[str, Any]:
    """NLU engines return entities as a dict or a list of {entity, value}: take either."""
    if isinstance(entities, dict):
        return dict(entities)
    found: dict[str, Any] = {}
    for item in entities or ():
        if isinstance(item, dict) and "entity" in item:
            found.setdefault(item["entity"], item.get("value"))
        elif hasattr(item, "type"):
            found.setdefault(item.type, item.value)
    return found


class Bot:
    def __init__(self, *, nlu: NluPort, templates: Templates | None = None,
                 flows: list[ModuleType] | None = None) -> None:
        self.nlu = nlu
        self.templates = templates or Templates()
        self.flows: dict[str, ModuleType] = {}
        self.by_intent: dict[str, ModuleType] = {}
        for flow in [smalltalk, handoff, emergency, *(flows or [])]:
            self.register(flow)

    def register(self, flow: ModuleType) -> None:
        self.flows[flow.NAME] = flow
        for intent in flow.INTENTS:
            self.by_intent[intent] = flow

    async def respond(self, turn: Turn) -> BotResult:
        result = await self._respond(turn)
        if result.handoff is not None and result.handoff.reason != "emergency":
            await self._announce_queue(turn, result)
        return result

    async def _announce_queue(self, turn: Turn, result: BotResult) -> None:
        """Tell the customer their place and expected wait, from the console's queue."""
        estimate = turn.extras.get("queue_estimate")
        handoff_ = result.handoff
        assert handoff_ is not None
        position, wait = (1, 0)
        if estimate is not None:
            position, wait = await estimate(turn.conversation_id, handoff_.skill, handoff_.priority)
        result.replies.append(self.templates.render(
            "handoff_queued", language=turn.state.language or "en", channel=turn.channel,
            position=position, wait_minutes=max(1, wait),
            utility=turn.settings.utility_name, utility_phone=turn.settings.utility_phone,
        ))

    async def _respond(self, turn: Turn) -> BotResult:
        state = turn.state
        state.language = guess_language(turn.text, state.language or turn.extras.get("language", "en"))
        understood = await self.nlu.parse(
            turn.text,
            language=state.language,
            channel=turn.channel,
            after_restoration=state.restoration_outage_id is not None,
        )
        result = BotResult(intent=understood.intent, confidence=understood.confidence)
        ctx = FlowContext(turn=turn, result=result, templates=self.templates,
                          intent=understood.intent, confidence=understood.confidence,
                          entities=entities_dict(understood.entities))
        if getattr(understood, "nested", False):
            ctx.entities["nested"] = True
        intent = understood.intent
        if intent == "report_hazard" and not _credible_hazard(turn.text, understood.confidence):
            # A priority hand-off pulls a specialist off the queue: a guess is not enough.
            intent = ctx.intent = "out_of_scope"
        if intent in COMPLIANCE_INTENTS:
            return result
        owner = turn.extras.get("owner", "bot")
        if owner != "bot":
            # Waiting for a person: only an emergency gets the bot's voice (safety first).
            if intent == "report_hazard":
                await emergency.start(ctx)
            else:
                ctx.say("still_queued")
            return result
        state.handed_off = False

        if turn.had_card_number:
            ctx.say("card_number_refused")
            if "make_payment" in self.by_intent:
                ctx.intent = "make_payment"
                await self._start(ctx, self.by_intent["make_payment"])
            return result
        if intent == "report_hazard":
            await emergency.start(ctx)
            return result
        if intent == "talk_to_agent" and understood.confidence >= SWITCH_CONFIDENCE:
            await handoff.start(ctx, reason="requested")
            return result
        if sentiment(turn.text) == "angry":
            await handoff.start(ctx, reason="angry")
            return result

        if state.flow and state.expecting:
            flow = self.flows.get(state.flow)
            if flow is not None and await flow.resume(ctx):
                state.misunderstandings = 0
                return result
            target = self.by_intent.get(intent)
            if (target is not None and intent not in ANSWER_INTENTS
                    and understood.confidence >= SWITCH_CONFIDENCE):
                state.finish()  # a change of mind: drop the old flow, start the new one
                await self._start(ctx, target)
                return result
            return await self._misunderstood(ctx, reprompt=state.slots.get("_prompt"))

        target = self.by_intent.get(intent)
        if target is None or intent == "out_of_scope":
            return await self._misunderstood(ctx, reprompt=None)
        await self._start(ctx, target)
        return result

    async def _start(self, ctx: FlowContext, flow: ModuleType) -> None:
        ctx.state.misunderstandings = 0
        await flow.start(ctx)

    async def _misunderstood(self, ctx: FlowContext, *, reprompt: str | None) -> BotResult:
        state = ctx.state
        state.misunderstandings += 1
        if state.misunderstandings >= MAX_MISUNDERSTANDINGS:
            await handoff.start(ctx, reason="misunderstood")
            return ctx.result
        if reprompt:
            ctx.say("misunderstood", prompt=reprompt)
        else:
            ctx.say("out_of_scope")
        return ctx.result
