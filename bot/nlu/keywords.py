"""Tier 1: the SMS keyword grammar of a utility short code (OUT, STAT, BAL, PAY, REG, NICK, AGENT,
HELP, carrier STOP/START words). A pure function of the text: no model, microseconds."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.nlu.base import NICKNAME, OPT_IN, OPT_OUT, Entity, NluResult
from bot.nlu.entities import extract_entities, parse_amount
from bot.nlu.text import edit_distance, fold, strip_edges, words

ENGINE = "keywords"

# Carrier rules (CTIA, Twilio Advanced Opt-Out): these words opt a number out or back in when they
# are the whole message. They are matched exactly, never fuzzily, in both directions: "STOPP" is
# not STOP, and no typo of another command may turn into STOP.
CARRIER_OPT_OUT = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke",
                             "optout"})
CARRIER_OPT_IN = frozenset({"start", "unstop", "yes"})
_CARRIER_WORDS = CARRIER_OPT_OUT | CARRIER_OPT_IN


@dataclass(frozen=True, slots=True)
class Command:
    """One keyword: the word on the short-code card, its intent, its correct spellings (aliases,
    trusted on every channel) and the typos we accept (trusted on SMS/WhatsApp only)."""

    keyword: str
    intent: str
    aliases: frozenset[str]
    typos: frozenset[str]
    takes_premise: bool = False


def _cmd(keyword: str, intent: str, aliases: str, typos: str, premise: bool = False) -> Command:
    return Command(keyword, intent, frozenset(aliases.split()), frozenset(typos.split()), premise)


COMMANDS: tuple[Command, ...] = (
    _cmd("OUT", "report_outage", "out", "otu uot oout outt 0ut outage", premise=True),
    _cmd("STAT", "outage_status", "stat status estado", "stats statis staus stauts sttus statu",
         premise=True),
    _cmd("BAL", "check_balance", "bal balance saldo", "balanc balence balnce blance balanace",
         premise=True),
    _cmd("PAY", "make_payment", "pay payment pagar pago", "pya apy payy paymnt", premise=True),
    _cmd("REG", "register", "reg register registrar", "rge regi registr regester regsiter"),
    _cmd("NICK", NICKNAME, "nick nickname apodo", "nik nck"),
    _cmd("AGENT", "talk_to_agent", "agent agente human representative operator",
         "agnet agen agetn angent aegnt agnt agents rep"),
    _cmd("HELP", "help", "help info information ayuda menu", "hlep halp hepl infor"),
)
# Long spellings that may be fuzzy-matched (edit distance by length), with their command.
_FUZZY_TARGETS: tuple[tuple[str, Command, int], ...] = tuple(
    (word, cmd, 2 if len(word) >= 8 else 1)
    for cmd in COMMANDS
    for word in ("status", "balance", "payment", "agent", "register", "nickname")
    if word in cmd.aliases
)
# One edit turns OUT into OUR, BUT or PUT: words shorter than this are never fuzzy-matched.
_FUZZY_MIN_LEN = 4
_BY_WORD = {word: cmd for cmd in COMMANDS for word in cmd.aliases | cmd.typos}
_CANCEL_WORDS = ("cancel", "cancelar")
_SPANISH = frozenset({"estado", "saldo", "pagar", "pago", "registrar", "apodo", "agente", "ayuda",
                      "sigo", "todavia", "aun"})

_AFFIRM = frozenset({"yes", "y", "yeah", "yep", "si", "ok", "okay"})
_DENY = frozenset({"no", "n", "nope", "nah"})
# "Reply OFF if you are still out": after a restoration notice these mean a new, nested outage.
_STILL_OUT = frozenset({
    "off", "still out", "still off", "still no power", "still no lights", "still dark",
    "still no water", "still nothing", "not back", "still out of power", "power still out",
    "power still off", "still have no power", "sigo sin luz", "todavia sin luz", "aun sin luz",
    "seguimos sin luz", "sin luz todavia",
})
# Politeness around a command that changes nothing: "PAY pls", "AGENT now".
_FILLER = frozenset({"please", "pls", "plz", "now", "thanks", "thx", "ty", "porfa", "favor", "por"})
# A command word followed by these is a sentence, not a command: "out of power", "pay my bill".
_SENTENCE_WORDS = frozenset({"of", "my", "the", "at", "on", "in", "to", "for", "is", "a", "an",
                             "and", "with", "from", "again", "since", "it", "me", "i", "you", "de",
                             "la", "el", "mi", "en", "que", "this", "that", "your", "all", "here"})
MAX_NICKNAME = 40
_BARE_AMOUNT = re.compile(r"\$?\s?\d+(?:\.\d{1,2})?(?:\s?(?:dollars|bucks|usd))?", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class KeywordMatch:
    """A matched command; `exact` is False for a typo or a command with arguments, which the
    pipeline only trusts on SMS/WhatsApp, and `carrier` marks STOP/START words."""

    result: NluResult
    keyword: str
    exact: bool
    carrier: bool = False


def match_keyword(text: str, *, opted_out: bool = False,
                  after_restoration: bool = False) -> NluResult | None:
    """The intent of a keyword command, or None when the text is not one."""
    match = parse_keyword(text, opted_out=opted_out, after_restoration=after_restoration)
    return match.result if match else None


def parse_keyword(text: str, *, opted_out: bool = False,
                  after_restoration: bool = False) -> KeywordMatch | None:
    """Like match_keyword, with how the match was made (exact, typo, carrier word)."""
    bare = fold(strip_edges(text))
    if not bare:
        return None
    if bare in CARRIER_OPT_OUT:
        return _carrier(OPT_OUT, bare)
    if bare in ("start", "unstop") or (bare == "yes" and opted_out):
        return _carrier(OPT_IN, bare)
    tokens = words(text) or [bare]
    if len(tokens) > 6:
        return None
    phrase = " ".join(tokens)
    if phrase in _AFFIRM and len(tokens) == 1:
        return _simple("affirm", bare, language="es" if phrase == "si" else "en")
    if phrase in _DENY and len(tokens) == 1:
        return _simple("deny", bare)
    if phrase in _STILL_OUT:
        language = "es" if tokens[0] in _SPANISH or "luz" in tokens else "en"
        return KeywordMatch(
            NluResult("report_outage", 1.0, engine=ENGINE, nested=after_restoration,
                      language=language),
            keyword="OFF", exact=True,
        )
    return _command(text, tokens, after_restoration)


def _carrier(intent: str, word: str) -> KeywordMatch:
    return KeywordMatch(NluResult(intent, 1.0, engine=ENGINE, language="en"), keyword=word.upper(),
                        exact=True, carrier=True)


def _simple(intent: str, word: str, language: str = "en") -> KeywordMatch:
    return KeywordMatch(NluResult(intent, 1.0, engine=ENGINE, language=language),
                        keyword=word.upper(), exact=True)


def _lookup(token: str) -> tuple[Command, bool] | None:
    """The command a first word names, and whether it was an exact spelling."""
    cmd = _BY_WORD.get(token)
    if cmd is not None:
        return cmd, token in cmd.aliases
    if token in _CARRIER_WORDS or any(edit_distance(token, w, 2) <= 2 for w in _CARRIER_WORDS
                                      if abs(len(w) - len(token)) <= 2):
        return None  # too close to a carrier word to guess at
    for word, command, limit in _FUZZY_TARGETS:
        if len(token) >= _FUZZY_MIN_LEN and edit_distance(token, word, limit) <= limit:
            return command, False
    return None


def _command(text: str, tokens: list[str], after_restoration: bool) -> KeywordMatch | None:
    if tokens[0] in ("outcancel", "outcancelar") and len(tokens) == 1:
        return _cancel_report(exact=False)
    found = _lookup(tokens[0])
    if found is None:
        return None
    cmd, exact = found
    args = [t for t in tokens[1:] if t not in _FILLER]
    if cmd.keyword == "OUT" and args and _is_cancel(args[0]):
        return _cancel_report(exact=exact and args[0] == "cancel" and len(args) == 1)
    entities = _arguments(cmd, text, args)
    if entities is None:
        return None
    language = "es" if tokens[0] in _SPANISH else "en"
    nested = after_restoration and cmd.intent == "report_outage"
    result = NluResult(cmd.intent, 1.0 if exact else 0.9, entities=entities, engine=ENGINE,
                       language=language, nested=nested)
    return KeywordMatch(result, keyword=cmd.keyword, exact=exact and not args)


def _is_cancel(token: str) -> bool:
    return token in _CANCEL_WORDS or edit_distance(token, "cancel", 2) <= 2


def _cancel_report(*, exact: bool) -> KeywordMatch:
    return KeywordMatch(NluResult("cancel_outage_report", 1.0 if exact else 0.9, engine=ENGINE,
                                  language="en"), keyword="OUT CANCEL", exact=exact)


def _arguments(cmd: Command, text: str, args: list[str]) -> tuple[Entity, ...] | None:
    """Entities from what follows the keyword, or None when the rest reads as a sentence."""
    if not args:
        return ()
    rest = _text_after_first_word(text)
    if cmd.keyword == "NICK":
        return _nickname(rest)
    if cmd.keyword == "REG":
        return tuple(e for e in extract_entities(rest)
                     if e.type in ("account_number", "phone", "zip_code")) or None
    if args[0] in _SENTENCE_WORDS or not cmd.takes_premise or len(args) > 3:
        return None
    if cmd.keyword == "PAY" and _BARE_AMOUNT.fullmatch(strip_edges(rest)):
        amount = parse_amount(rest if "$" in rest else f"{strip_edges(rest)} dollars")
        if amount is not None:
            return (Entity("amount", amount, text=rest),)
    if len(args) == 1 and args[0].isdigit() and 1 <= int(args[0]) <= 99:
        return (Entity("premise_index", int(args[0]), text=args[0]),)
    if any(t.isdigit() for t in args):
        return None
    return (Entity("premise_nickname", " ".join(args), text=rest),)


def _nickname(rest: str) -> tuple[Entity, ...]:
    """NICK <name> or NICK <n> <name>: the name as typed (trimmed), the list number if given."""
    parts = rest.split(maxsplit=1)
    entities: list[Entity] = []
    if parts and parts[0].isdigit():
        entities.append(Entity("premise_index", int(parts[0]), text=parts[0]))
        rest = parts[1] if len(parts) > 1 else ""
    name = strip_edges(rest)[:MAX_NICKNAME]
    if name:
        entities.append(Entity("premise_nickname", name, text=name))
    return tuple(entities)


def _text_after_first_word(text: str) -> str:
    parts = strip_edges(text).split(maxsplit=1)
    return parts[1] if len(parts) > 1 else ""
