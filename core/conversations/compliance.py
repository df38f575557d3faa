"""Carrier compliance for texting: opt-out, opt-in and HELP, honored at intake and at send time.

US carriers (CTIA) require that the standard opt-out words stop every later message at once,
that exactly one confirmation follows, and that HELP answers with who we are and how to reach
a person. Twilio enforces this itself on long codes unless Advanced Opt-Out hands it to us,
so we keep our own record too: it is what a sandbox, a WhatsApp sender or a second provider
would otherwise miss.
"""

from __future__ import annotations

import re
from enum import StrEnum

from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import utcnow
from core.consent.models import OptOut
from core.conversations.repository import upsert

OPT_OUT_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
OPT_IN_WORDS = frozenset({"START", "UNSTOP", "YES"})
HELP_WORDS = frozenset({"HELP", "INFO"})


class CarrierKeyword(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"


_TRIM = re.compile(r"^[\s\"'.,!?]+|[\s\"'.,!?]+$")


def keyword_word(text: str) -> str:
    """The message as one upper-case word: 'Stop.' and ' stop ' count, 'stop texting me' not
    (carriers match the whole message, and so does Twilio)."""
    word = _TRIM.sub("", text or "").upper()
    return "STOPALL" if word == "STOP ALL" else word


def carrier_keyword(text: str, *, opted_out: bool) -> CarrierKeyword | None:
    word = keyword_word(text)
    if word in OPT_OUT_WORDS:
        return CarrierKeyword.OPT_OUT
    # YES means opt back in only to someone opted out; otherwise it is the bot's "affirm".
    if word in OPT_IN_WORDS and (opted_out or word != "YES"):
        return CarrierKeyword.OPT_IN
    if word in HELP_WORDS:
        return CarrierKeyword.HELP
    return None


def carrier_keyword_from_provider(value: str | None) -> CarrierKeyword | None:
    """Twilio's OptOutType field (STOP / START / HELP) when it handled the keyword itself."""
    return {"STOP": CarrierKeyword.OPT_OUT, "START": CarrierKeyword.OPT_IN,
            "HELP": CarrierKeyword.HELP}.get((value or "").upper())


def opted_out(address: ColumnElement[str]) -> ColumnElement[bool]:
    """The same check as a SQL expression, for statements that check consent as they write
    (one round trip instead of two)."""
    return exists().where(OptOut.address == address, OptOut.opted_out.is_(True))


async def is_opted_out(session: AsyncSession, address: str) -> bool:
    found = await session.scalar(select(OptOut.opted_out).where(OptOut.address == address))
    return bool(found)


async def record_consent(session: AsyncSession, *, address: str, opted_out: bool,
                         keyword: str) -> None:
    """Upsert at once, in the caller's transaction: the next send already sees it."""
    values = {"address": address, "opted_out": opted_out, "keyword": keyword[:16],
              "changed_at": utcnow()}
    await upsert(session, OptOut, values, conflict=("address",),
                 update=("opted_out", "keyword", "changed_at"))


async def may_send(session: AsyncSession, *, address: str, purpose: str) -> bool:
    """The send-time gate. Only the opt-out confirmation itself passes an opted-out number."""
    if purpose == "compliance":
        return True
    return not await is_opted_out(session, address)


def help_text(*, utility_name: str, utility_phone: str) -> str:
    return (f"{utility_name}: text OUT to report an outage, STAT for outage status, BAL for "
            f"your balance, PAY to pay, AGENT for a person, or call {utility_phone}. "
            "Msg&data rates may apply. Reply STOP to opt out.")


def opt_out_text(*, utility_name: str) -> str:
    return (f"{utility_name}: you are unsubscribed and will get no more texts from us. "
            "Reply START to resubscribe.")


def opt_in_text(*, utility_name: str) -> str:
    return (f"{utility_name}: you are subscribed again. Reply HELP for help, STOP to opt out. "
            "Msg&data rates may apply.")
