"""Strip quoted history, signatures and legal footers, so NLU reads only what the customer
just wrote. A reply carries the whole thread below it; read raw, the bot would answer our own
last message back to us.

Rules are line-based and conservative: when unsure, keep the line. The original body is
stored beside the cleaned text, so nothing is lost for an agent.
"""

from __future__ import annotations

import re

# "On Mon, Mar 4, 2024 at 10:12 AM Jane <jane@x> wrote:" (Gmail), "On Mar 4, 2024, at 10:12,
# Jane <jane@x> wrote:" (Apple Mail), "El lun, 4 mar 2024 a las 10:12, Juan (<j@x>)
# escribió:" (Gmail es), and the French, German, Portuguese shapes. Gmail wraps a long
# attribution over two or three lines, so candidates are tried joined.
_ATTRIBUTION = re.compile(
    r"^(?:on|el|le|am|em)\s.{3,300}?"
    r"(?:wrote|escribi[óo]|a\s+[ée]crit|escreveu|schrieb\b.{0,200}?)\s*:$",
    re.IGNORECASE,
)

# Outlook's separators: after these, everything is the message being answered.
_ORIGINAL_MESSAGE = re.compile(
    r"^\s*-{2,}\s*(?:original message|mensaje original|message d'origine|"
    r"urspr[üu]ngliche nachricht|mensagem original)\s*-{2,}\s*$",
    re.IGNORECASE,
)
_UNDERSCORE_RULE = re.compile(r"^\s*_{10,}\s*$")
# Outlook's quoted header block: "From:" then "Sent:"/"Date:" within a few lines.
_HEADER_FROM = re.compile(r"^\s*\*?(?:from|de|von)\s*:\*?\s+\S", re.IGNORECASE)
_HEADER_NEXT = re.compile(
    r"^\s*\*?(?:sent|date|enviado|fecha|gesendet|envoy[ée])\s*:\*?\s+\S", re.IGNORECASE
)

# The RFC 3676 delimiter is "-- "; many clients strip the trailing space on the way out.
_SIG_DELIMITER = re.compile(r"^--\s?$")
_MOBILE_SIGNATURE = re.compile(
    r"^\s*(?:"
    r"sent from my \w[\w\s\-.']{0,40}"
    r"|sent from (?:outlook|mail|yahoo mail|gmail|aol)\b.{0,40}"
    r"|get outlook for (?:ios|android)"
    r"|enviado desde mi \w[\w\s\-.']{0,40}"
    r"|enviado desde (?:outlook|correo|yahoo mail|gmail)\b.{0,40}"
    r"|obtener outlook para (?:ios|android)"
    r"|envoy[ée] de mon \w[\w\s\-.']{0,40}"
    r")\s*$",
    re.IGNORECASE,
)
_LEGAL_FOOTER = re.compile(
    r"^\s*\W*\s*(?:"
    r"confidentiality notice|confidential(?:ity)?:|disclaimer\s*:|privileged\s*(?:&|and)\s*"
    r"confidential|this (?:e-?mail|message|communication)(?: and any attachments?| \(including"
    r" any attachments\))? (?:is|are|may contain) (?:confidential|intended|privileged)"
    r"|the information contained in this (?:e-?mail|message|communication)"
    r"|if you (?:are not|have received this) .{0,40}(?:intended recipient|in error)"
    r"|please consider the environment before printing"
    r"|aviso de confidencialidad|aviso legal\s*:|este (?:correo|mensaje)(?: electr[óo]nico)?"
    r"(?: y sus anexos)? (?:es|contiene|puede contener) .{0,30}confidencial"
    r")",
    re.IGNORECASE,
)


def clean_body(text: str) -> str:
    """The customer's new words: quoted history, signature and footers removed."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if _is_quoted(line):
            i += 1
            continue
        span = _attribution_span(lines, i)
        if span:
            after = _next_nonblank(lines, i + span)
            if after is not None and _is_quoted(lines[after]):
                # Bottom-posting: drop the attribution and let the quote rule drop the quote;
                # the answer written below it survives.
                i += span
                continue
            break  # top-posting without ">" (HTML reduced, Outlook): the rest is history
        if _starts_history(lines, i) or _starts_signature(line, kept):
            break
        kept.append(line)
        i += 1
    return _tidy(kept)


def _is_quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def _attribution_span(lines: list[str], i: int) -> int:
    """How many lines (1–3) an attribution starting at line i spans; 0 if none does."""
    if not lines[i].strip():
        return 0
    joined = ""
    for span in range(1, 4):
        if i + span > len(lines):
            break
        joined = (joined + " " + lines[i + span - 1].strip()).strip()
        if len(joined) > 400:
            break
        if _ATTRIBUTION.match(joined):
            return span
    return 0


def _starts_history(lines: list[str], i: int) -> bool:
    line = lines[i]
    if _ORIGINAL_MESSAGE.match(line):
        return True
    start = i + 1 if _UNDERSCORE_RULE.match(line) else i
    if start < len(lines) and _HEADER_FROM.match(lines[start]):
        return any(_HEADER_NEXT.match(nxt) for nxt in lines[start + 1:start + 5])
    return False


def _starts_signature(line: str, kept: list[str]) -> bool:
    if _SIG_DELIMITER.match(line) or _MOBILE_SIGNATURE.match(line):
        return True
    # A footer as the very first line is more likely a customer quoting one at us: keep it.
    return bool(_LEGAL_FOOTER.match(line)) and any(k.strip() for k in kept)


def _next_nonblank(lines: list[str], start: int) -> int | None:
    for j in range(start, len(lines)):
        if lines[j].strip():
            return j
    return None


def _tidy(lines: list[str]) -> str:
    out: list[str] = []
    for line in lines:
        line = line.rstrip()
        if not line and (not out or not out[-1]):
            continue
        out.append(line)
    return "\n".join(out).strip()
