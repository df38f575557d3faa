"""A plain responder for when no bot flows are wired: it understands the SMS keywords (via an
injected matcher, since core imports no bot) and always offers a way to a person.

The bot issue replaces it by putting its own Responder in `runtime.extras["responder"]`."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from core.conversations.schemas import BotOutcome, Handoff, Reply, Turn

IntentOf = Callable[[str], str | None]


class KeywordResponder:
    """Answers keywords with where to go next; hands AGENT requests to the queue."""

    def __init__(self, *, utility_name: str, utility_phone: str,
                 intent_of: IntentOf | None = None) -> None:
        self._intent_of = intent_of or (lambda _text: None)
        self._name = utility_name
        self._phone = utility_phone

    async def respond(self, session: AsyncSession, turn: Turn) -> BotOutcome:
        intent = self._intent_of(turn.text)
        if turn.owner == "queued":
            return BotOutcome(replies=(Reply(
                text="You're in line for the next available person. We'll reply here."),))
        if intent == "talk_to_agent":
            return BotOutcome(
                replies=(Reply(text="Connecting you with a person. We'll reply here shortly."),),
                handoff=Handoff(reason="customer_asked", skill="general",
                                summary={"intent": intent, "text": turn.text}))
        text = self._answers().get(intent or "", self._not_understood())
        return BotOutcome(replies=(Reply(text=text),))

    def _answers(self) -> dict[str, str]:
        call = f"call {self._phone}"
        return {
            "report_outage": (f"{self._name}: we got your outage message. To file a report "
                              f"with a person now, {call} or text AGENT."),
            "outage_status": (f"{self._name}: for outage updates {call} or text AGENT."),
            "cancel_outage_report": "Thanks for letting us know your service is back.",
            "check_balance": (f"For your balance, text AGENT or {call}. We never ask for "
                              "card numbers by text."),
            "make_payment": (f"To pay, text AGENT or {call}. Never text us a card number."),
            "greet": f"Hi! This is {self._name}. Text HELP for options or AGENT for a person.",
            "thanks": "You're welcome!",
        }

    def _not_understood(self) -> str:
        return "Sorry, I didn't get that. Text HELP for options or AGENT for a person."
