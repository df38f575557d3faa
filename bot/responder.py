"""The bot behind the pipeline's Responder seam (core/conversations/ports.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.engine import Bot, NluPort
from bot.flows import arrangement, balance, billing, outage, pay, register, service, status
from bot.replies import Templates
from bot.state import DialogueState
from bot.turn import Turn
from core.clock import utcnow
from core.config import Settings
from core.conversations.schemas import BotOutcome, Reply
from core.conversations.schemas import Turn as PipelineTurn
from core.pii import MASK

ALL_FLOWS = [outage, status, balance, pay, arrangement, service, billing, register]


class BotResponder:
    """Loads the dialogue state from the turn, runs the bot, hands back replies and state."""

    def __init__(self, *, nlu: NluPort, settings: Settings, templates: Templates | None = None,
                 extras: dict[str, Any] | None = None) -> None:
        self.bot = Bot(nlu=nlu, templates=templates or Templates(settings.templates_dir),
                       flows=ALL_FLOWS)
        self.settings = settings
        # The runtime's extras, read per turn: the console's queue estimate and the storm
        # picture are installed after the bot is built.
        self.extras = extras if extras is not None else {}

    async def respond(self, session: AsyncSession, turn: PipelineTurn) -> BotOutcome:
        state = DialogueState.from_json(dict(turn.state))
        extras: dict[str, Any] = {"language": turn.language, "owner": turn.owner}
        for key in ("queue_estimate", "outage_picture"):
            if self.extras.get(key) is not None:
                extras[key] = self.extras[key]
        storm = self.extras.get("storm")
        bot_turn = Turn(
            conversation_id=turn.conversation_id, channel=turn.channel, address=turn.address,
            text=turn.text, session=session, settings=self.settings, now=utcnow(), state=state,
            customer_id=turn.customer_id,
            # The pipeline masked any card number before storing; the mask is our signal.
            had_card_number=MASK * 4 in turn.text,
            storm_mode=bool(storm and await storm.active()),
            extras=extras,
        )
        result = await self.bot.respond(bot_turn)
        return BotOutcome(
            replies=tuple(Reply(text=r.text, quick_replies=r.quick_replies)
                          for r in result.replies),
            state=state.to_json(),
            handoff=result.handoff,
        )
