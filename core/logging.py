"""JSON logs that never carry a full phone number, email, account number or card number."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog

# Order matters: cards (13-19 digits) before phones, phones before bare account numbers.
_CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
_PHONE = re.compile(r"\+\d{7,15}\b")
_EMAIL = re.compile(r"\b([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})\b")
_LONG_DIGITS = re.compile(r"\b\d{6,12}\b")


def redact(text: str) -> str:
    text = _CARD.sub(lambda m: "[card]", text)
    text = _PHONE.sub(lambda m: "+***" + m.group(0)[-2:], text)
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    return _LONG_DIGITS.sub(lambda m: "***" + m.group(0)[-2:], text)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(v) for v in value]
    return value


def _redact_processor(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    return {k: (v if k in {"timestamp", "level"} else _redact_value(v)) for k, v in event.items()}


class _StderrLogger:
    """Writes to whatever sys.stderr is when a line is logged, not when logging was set up: a
    stream bound at set-up (structlog's PrintLogger) outlives a redirect (a test's capture, a
    daemon re-opening its stderr) and then writes to a closed file."""

    def msg(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


def _stderr_logger(*_args: Any) -> _StderrLogger:
    return _StderrLogger()


def configure_logging(*, level: str = "INFO", json: bool = True) -> None:
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _redact_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=True,
    )
