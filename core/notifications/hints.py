"""After a restoration notice, the customer's conversation knows it: an "OFF" or "still out"
reply is then a nested outage (a new report), not small talk. The hint is the bot's own
dialogue-state field `restoration_outage_id` (bot/state.py), written on the conversation the
customer's reply will land in, opened now if there is none, exactly as intake would open it
(conversations.service.open_key)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.conversations.models import Conversation
from core.conversations.service import open_key
from core.customers.models import Contact
from core.notifications.repository import _insert

HINT = "restoration_outage_id"


@dataclass(frozen=True, slots=True)
class RestorationSent:
    address: str
    channel: str
    outage_id: int
    language: str = "en"


async def set_restoration_hints(session: AsyncSession, sent: Sequence[RestorationSent],
                                *, now: datetime) -> None:
    if not sent:
        return
    bare = sorted({s.address.removeprefix("whatsapp:") for s in sent})
    owners = await session.execute(
        select(Contact.value, func.count(func.distinct(Contact.customer_id)),
               func.min(Contact.customer_id))
        .where(Contact.value.in_(bare)).group_by(Contact.value))
    customer_of = {value: (first if n == 1 else None) for value, n, first in owners.tuples()}
    rows = []
    seen: set[str] = set()
    for s in sent:
        customer = customer_of.get(s.address.removeprefix("whatsapp:"))
        key = open_key(customer_id=customer, address=s.address)
        if key in seen:
            continue
        seen.add(key)
        rows.append({"customer_id": customer, "channel": s.channel, "address": s.address,
                     "owner": "bot", "open_key": key,
                     "language": s.language or "en", "bot_state": {}, "opened_at": now,
                     "last_message_at": now, "owner_changed_at": now, "priority": 0,
                     "outage_id": s.outage_id})
    await session.execute(
        _insert(session, Conversation)
        .values([{k: v for k, v in r.items() if k != "outage_id"} for r in rows])
        .on_conflict_do_nothing(index_elements=["open_key"]))
    if session.get_bind().dialect.name == "postgresql":
        statement = text(
            "UPDATE conversations SET bot_state = (COALESCE(bot_state::jsonb, '{}'::jsonb)"
            " || jsonb_build_object(CAST(:hint AS text), CAST(:outage_id AS bigint)))::json"
            " WHERE open_key = :open_key")
    else:
        statement = text(
            "UPDATE conversations SET bot_state = json_set(COALESCE(bot_state, '{}'),"
            " '$.' || :hint, :outage_id) WHERE open_key = :open_key")
    await session.execute(statement.bindparams(bindparam("hint"), bindparam("outage_id"),
                                               bindparam("open_key")),
                          [{"hint": HINT, "outage_id": r["outage_id"],
                            "open_key": r["open_key"]} for r in rows])
