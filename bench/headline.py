"""The top of RESULTS.md: Stormdesk against its peers (ratios with both absolute numbers), and
every numeric target the earlier issues set, met or with the gap. Read from the result JSONs
only, so a test can feed it fakes."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.repeat import as_number

Row = dict[str, Any]
Results = dict[str, dict[str, Any]]


def _rows(results: Results, name: str) -> list[Row]:
    return list(results.get(name, {}).get("rows") or [])


def _num(row: Row | None, column: str) -> float | None:
    if row is None:
        return None
    number = as_number(row.get(column))
    return None if number is None or math.isnan(number) else number


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "–"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.3g}"
    return f"{text}{unit}"


def _with_spread(row: Row | None, column: str) -> str:
    """The median, and the min–max across runs when the table has it."""
    text = _fmt(_num(row, column))
    spread = (row or {}).get(f"{column} min–max")
    return f"{text} ({spread})" if spread else text


def ratio(ours: float | None, peer: float | None) -> str:
    if ours is None or peer is None or peer == 0:
        return "–"
    value = ours / peer
    if value >= 10:
        return f"{value:,.0f}×"
    return f"{value:.2f}×" if value >= 0.1 else f"{value:.3f}×"


def _peer_row(peers: list[Row], senders: Any) -> Row | None:
    return next((p for p in peers if p.get("senders") == senders), None)


def sms_peer_rows(results: Results) -> list[list[str]]:
    """Stormdesk's SMS webhook (production, embedded) vs the bare FastAPI endpoint."""
    rows = _rows(results, "sms")
    peers = [r for r in rows if str(r.get("setup", "")).startswith("bare FastAPI")]
    table = []
    for row in rows:
        if row in peers:
            continue
        peer = _peer_row(peers, row.get("senders"))
        ours_rate, peer_rate = _num(row, "msg/s"), _num(peer, "msg/s")
        ours_p99, peer_p99 = _num(row, "p99 ms"), _num(peer, "p99 ms")
        table.append([str(row.get("setup", "?")), _fmt(_num(row, "senders")),
                      _with_spread(row, "msg/s"), _with_spread(peer, "msg/s"),
                      ratio(ours_rate, peer_rate),
                      _fmt(ours_p99), _fmt(peer_p99), ratio(ours_p99, peer_p99)])
    return table


def bot_peer_rows(results: Results) -> list[list[str]]:
    """Stormdesk's bot through the SMS webhook vs Rasa 3.6's REST channel, same utterances."""
    rows = _rows(results, "bot")
    peers = [r for r in rows if "Rasa REST" in str(r.get("measure", ""))]
    table = []
    for row in rows:
        if "SMS webhook" not in str(row.get("measure", "")):
            continue
        peer = _peer_row(peers, row.get("senders"))
        cells = [str(row.get("setup", "?")), _fmt(_num(row, "senders"))]
        for column in ("msg/s", "p50 ms", "p99 ms"):
            ours, theirs = _num(row, column), _num(peer, column)
            cells += [_with_spread(row, column), _with_spread(peer, column),
                      ratio(ours, theirs)]
        table.append(cells)
    return table


def _markdown(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |"
              for row in rows)]


def peer_tables(results: list[dict[str, Any]]) -> list[str]:
    by_name = {r["name"]: r for r in results}
    lines = ["## Peer ratios", "",
             ("Stormdesk divided by the peer, measured in the same run on the same machine. "
             "For msg/s above 1× means Stormdesk moved more; for latency above 1× means "
             "Stormdesk's senders waited longer."), ""]
    sms = sms_peer_rows(by_name)
    lines += [("**SMS webhook vs a bare FastAPI endpoint** (the ceiling of the stack: same "
              "server, same load generator, no work behind the route):"), ""]
    lines += _markdown(["Stormdesk setup", "senders", "msg/s", "FastAPI msg/s", "msg/s ratio",
                        "p99 ms", "FastAPI p99 ms", "p99 ratio"], sms) if sms else [
        "_Not measured: no `sms` result._"]
    bot = bot_peer_rows(by_name)
    lines += ["", ("**Bot through the SMS webhook vs Rasa 3.6's REST channel** "
              "(`/webhooks/rest/webhook`, a full model trained from the project's own data; "
              "the same held-out utterances and senders):"), ""]
    header = ["Stormdesk setup", "senders", "msg/s", "Rasa msg/s", "ratio", "p50 ms",
              "Rasa p50 ms", "ratio", "p99 ms", "Rasa p99 ms", "ratio"]
    lines += _markdown(header, bot) if bot else [
        "_Not measured: no `bot` result (or Rasa could not be built)._"]
    return lines


@dataclass(frozen=True)
class Target:
    """One numeric target: `check` returns (measured text, met?) per row it applies to, or
    nothing when the run did not measure it."""

    issue: int
    text: str
    check: Callable[[Results], list[tuple[str, str, bool, str]]]


def _sms_target(results: Results) -> list[tuple[str, str, bool, str]]:
    found = []
    for row in _rows(results, "sms"):
        if not str(row.get("setup", "")).startswith("production"):
            continue
        rate, p99 = _num(row, "msg/s"), _num(row, "p99 ms")
        if rate is None or p99 is None:
            continue
        gaps = []
        if rate < 1000:
            gaps.append(f"{1000 / rate:.0f}× short on msg/s" if rate else "no messages")
        if p99 >= 100:
            gaps.append(f"p99 {p99 / 100:.1f}× over")
        found.append((f"production, {_fmt(_num(row, 'senders'))} senders",
                      f"{_fmt(rate)} msg/s, p99 {_fmt(p99)} ms", not gaps, "; ".join(gaps)))
    return found


def _seed_target(results: Results) -> list[tuple[str, str, bool, str]]:
    found = []
    for row in _rows(results, "seed"):
        if _num(row, "customers") != 10_000:
            continue
        seconds = _num(row, "seed s")
        if seconds is None:
            continue
        found.append((str(row.get("setup", row.get("database", "?"))), f"{_fmt(seconds)} s",
                      seconds < 60, f"{seconds - 60:.0f} s over" if seconds >= 60 else ""))
    return found


def _seed_scale(results: Results) -> list[tuple[str, str, bool, str]]:
    row = next((r for r in _rows(results, "storm") if "500,000" in str(r.get("case", ""))),
               None)
    if row is None:
        return []
    return [("storm bench", f"{row.get('notices', '?')} notices planned for 500,000 customers",
             True, "")]


def _nlu_target(results: Results) -> list[tuple[str, str, bool, str]]:
    row = next((r for r in _rows(results, "nlu") if r.get("tier") == "embedded"), None)
    p50, mean, p99 = _num(row, "p50 µs"), _num(row, "mean µs"), _num(row, "p99 µs")
    if mean is None:
        return []
    gap = f"mean {mean / 1000:.2f} ms" if mean >= 1000 else (
        f"p99 {p99 / 1000:.1f} ms is over 1 ms" if p99 and p99 >= 1000 else "")
    return [("embedded classifier", (f"p50 {_fmt(p50)} µs, mean {_fmt(mean)} µs, "
             f"p99 {_fmt(p99)} µs"), mean < 1000, gap)]


def _dispatch_target(results: Results) -> list[tuple[str, str, bool, str]]:
    found = []
    for row in _rows(results, "storm"):
        rate = _num(row, "dispatch notices/s")
        if rate is not None:
            found.append((str(row.get("case", "?")), f"{_fmt(rate)} notices/s", rate >= 2000,
                          f"{2000 - rate:,.0f}/s short ({rate / 2000:.1%} of it)"
                          if rate < 2000 else ""))
    return found


def _webchat_target(case: str, wanted: int) -> Callable[[Results], list]:
    def check(results: Results) -> list[tuple[str, str, bool, str]]:
        found = []
        for row in _rows(results, "webchat"):
            if not str(row.get("case", "")).startswith(case):
                continue
            sessions, errors = _num(row, "sessions"), _num(row, "errors") or 0
            if sessions is None:
                continue
            gaps = []
            if sessions < wanted:
                gaps.append(f"only {sessions:,.0f} sessions run")
            if errors:
                gaps.append(f"{errors:,.0f} errors")
            detail = row.get("case", "")
            if "round trip p99 ms" in row:
                detail = f"{detail}: round trip p99 {_fmt(_num(row, 'round trip p99 ms'))} ms"
            found.append((str(row.get("setup", "?")),
                          f"{sessions:,.0f} sessions, {errors:,.0f} errors ({detail})",
                          not gaps, "; ".join(gaps)))
        return found
    return check


TARGETS = (
    Target(2, "Seed 10,000 customers well under a minute", _seed_target),
    Target(2, "Seeding scales to 500,000 customers", _seed_scale),
    Target(3, "SMS webhook ≥ 1,000 msg/s with p99 < 100 ms, production, replies included",
           _sms_target),
    Target(4, "Embedded NLU well under 1 ms per message", _nlu_target),
    Target(6, "Notice dispatch ≥ 2,000/s with no provider limit (≥ 20× a short code)",
           _dispatch_target),
    Target(7, "Web chat holds 5,000 idle sessions", _webchat_target("idle sessions", 5000)),
    Target(7, "Web chat serves 500 active sessions", _webchat_target("active", 500)),
)

UNTARGETED = ("agent delivery latency (#5), OUT handling rate and p99 during a bulk send "
              "(#6), inference cost per report (#6), email parse and SMTP accept (#7) and the "
              "bot's per-tier latency (#4)")


def target_rows(results: list[dict[str, Any]]) -> list[list[str]]:
    by_name = {r["name"]: r for r in results}
    quick = any(r.get("quick") for r in results)
    rows = []
    for target in TARGETS:
        checked = target.check(by_name)
        if not checked:
            rows.append([f"#{target.issue}", target.text, "–", "–",
                         "not measured in this run"
                         + (" (quick run: smaller sizes)" if quick else "")])
            continue
        for where, measured, met, gap in checked:
            verdict = "met" if met else f"not met ({gap})" if gap else "not met"
            if quick:
                verdict += " (quick run: smaller sizes)"
            rows.append([f"#{target.issue}", target.text, where, measured, verdict])
    return rows


def targets_table(results: list[dict[str, Any]]) -> list[str]:
    return ["## Targets", "",
            "Every numeric target the earlier issues set, against this run's medians.", "",
            *_markdown(["issue", "target", "where", "measured", "verdict"],
                       target_rows(results)),
            "", f"No numeric target was set for {UNTARGETED}; their numbers are below."]
