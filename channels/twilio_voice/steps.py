"""Where a call stands, carried in the URL of the next webhook instead of in memory.

Twilio calls back the exact URL we put in `<Gather action>`, signs it (query string included)
and calls it again on a retry. So the step number in that URL makes a retry recognizable —
the caller's input is stored under (CallSid, step) and a second delivery finds it — and any
API process can take any step of any call, with nothing kept between requests.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import urlencode

from core.errors import Invalid

LANGUAGES = ("en", "es")
MAX_STEP = 1000


@dataclass(frozen=True, slots=True)
class Step:
    """`number`: this turn of the call (1 = the answer to the greeting); `quiet`: how many
    turns in a row heard nothing usable; `language`: what the caller is spoken to in;
    `served`: the bot has finished a job and only asked "anything else?"."""

    number: int = 1
    quiet: int = 0
    language: str = "en"
    served: bool = False

    @classmethod
    def from_query(cls, *, n: int, q: int = 0, language: str = "en", s: int = 0) -> Step:
        if not 1 <= n <= MAX_STEP or not 0 <= q <= 9:
            raise Invalid("step out of range", n=n, q=q)
        return cls(number=n, quiet=q, language=language if language in LANGUAGES else "en",
                   served=bool(s))

    def query(self) -> dict[str, str]:
        return {"n": str(self.number), "q": str(self.quiet), "l": self.language,
                "s": "1" if self.served else "0"}

    def next(self, *, language: str | None = None, served: bool = False,
             quiet: int = 0) -> Step:
        return replace(self, number=self.number + 1, quiet=quiet,
                       language=language or self.language, served=served)

    def external_id(self, call_sid: str) -> str:
        """The idempotency key of the caller's input at this step (unique per channel)."""
        return f"{call_sid}:{self.number}"


def absolute(base_url: str, path: str, params: dict[str, str] | None = None) -> str:
    """Absolute URLs: the signature Twilio sends is over the URL it called, which must be the
    public one (PUBLIC_BASE_URL) for channels/twilio_sms/security.py to check it."""
    url = base_url.rstrip("/") + path
    return f"{url}?{urlencode(params)}" if params else url
