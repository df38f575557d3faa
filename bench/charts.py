"""One PNG per benchmark, for an operator skimming RESULTS.md: bars per setup, the peer (or the
target) as a dashed reference line, latencies as p50/p99 pairs. Headless (Agg)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.repeat import as_number

Row = dict[str, Any]
Where = Callable[[Row], bool]


def _has(column: str, text: str) -> Where:
    return lambda row: text in str(row.get(column, ""))


def _any(_row: Row) -> bool:
    return True


@dataclass(frozen=True)
class Panel:
    """One subplot. With `series`, one metric and a bar per series value at each x; without,
    a bar per metric at each x. `peer` rows are drawn as a dashed line over the x they match."""

    title: str
    metrics: tuple[str, ...]
    x: tuple[str, ...]
    series: str | None = None
    where: Where = _any
    peer: Where | None = None
    target: float | None = None
    by_rank: bool = False  # x = the row's rank within its series (labels from the first)


@dataclass(frozen=True)
class Chart:
    panels: tuple[Panel, ...] = field(default_factory=tuple)


_LAT = ("p50 ms", "p99 ms")
_NOT_PEER_SMS = _has("setup", ":")  # production: … / embedded: …

CHARTS: dict[str, Chart] = {
    "sms": Chart((
        Panel("Messages/s (dashed: bare FastAPI; dotted: 1,000/s target)", ("msg/s",),
              ("senders",), "setup", _NOT_PEER_SMS, _has("setup", "bare FastAPI"), 1000.0),
        Panel("p99 latency, ms (dashed: bare FastAPI; dotted: 100 ms target)", ("p99 ms",),
              ("senders",), "setup", _NOT_PEER_SMS, _has("setup", "bare FastAPI"), 100.0),
        Panel("p50 latency, ms (dashed: bare FastAPI)", ("p50 ms",), ("senders",), "setup",
              _NOT_PEER_SMS, _has("setup", "bare FastAPI")),
    )),
    "bot": Chart((
        Panel("Bot turn latency per NLU tier, ms", _LAT, ("setup",),
              where=_has("measure", "one turn")),
        Panel("SMS webhook messages/s (dashed: Rasa 3.6 REST)", ("msg/s",), ("senders",),
              "setup", _has("measure", "SMS webhook"), _has("measure", "Rasa REST")),
        Panel("SMS webhook p99, ms (dashed: Rasa 3.6 REST)", ("p99 ms",), ("senders",),
              "setup", _has("measure", "SMS webhook"), _has("measure", "Rasa REST")),
    )),
    "seed": Chart((
        Panel("Seed time, s", ("seed s",), ("customers",), "setup"),
        Panel("Balance / summary p99, ms", ("balance p99 ms", "summary p99 ms"),
              ("setup", "customers")),
    )),
    "console": Chart((
        Panel("Webhook → agent p99, ms", ("webhook → agent p99 ms",),
              ("agents", "inbound msg/s"), "setup", by_rank=True),
        Panel("Webhook → agent p50, ms", ("webhook → agent p50 ms",),
              ("agents", "inbound msg/s"), "setup", by_rank=True),
        Panel("Commit → agent p99, ms (the console's own leg)", ("commit → agent p99 ms",),
              ("agents", "inbound msg/s"), "setup", by_rank=True),
    )),
    "webchat": Chart((
        Panel("Message round trip p99, ms", ("round trip p99 ms",), ("case",), "setup",
              where=lambda row: "round trip p99 ms" in row),
        Panel("Message round trip p50, ms", ("round trip p50 ms",), ("case",), "setup",
              where=lambda row: "round trip p50 ms" in row),
        Panel("Idle sessions held (dotted: 5,000 target)", ("sessions",), ("case",), "setup",
              where=_has("case", "idle sessions"), target=5000.0),
    )),
    "storm": Chart((
        Panel("Notices/s (dotted: 2,000/s dispatch target)",
              ("plan notices/s", "enqueue notices/s", "dispatch notices/s"), ("case",),
              where=lambda row: "plan notices/s" in row, target=2000.0),
        Panel("OUT handling, ms", ("OUT p50 ms", "OUT p99 ms"), ("case",),
              where=lambda row: "OUT p50 ms" in row),
    )),
    "inference": Chart((
        Panel("Per report, µs", ("report p50 µs", "report p99 µs", "deciding p50 µs"),
              ("service points",)),
    )),
    "nlu": Chart((
        Panel("Per message, µs (dotted: 1 ms)", ("p50 µs", "p99 µs"), ("tier",),
              target=1000.0),
    )),
    "email": Chart((
        Panel("Per message, ms", _LAT, ("setup", "case")),
    )),
}


def _label(row: Row, columns: tuple[str, ...]) -> str:
    parts = []
    for column in columns:
        value = row.get(column, "")
        number = as_number(value)
        if isinstance(value, int | float) and number is not None:
            value = f"{number:,.0f}"
        parts.append(f"{value} {column}" if column in ("senders", "agents", "customers",
                                                         "service points") else str(value))
        if column == "inbound msg/s":
            parts[-1] = f"{value} msg/s"
    return "\n".join(_wrap(p) for p in parts if p)


def _wrap(text: str, width: int = 22) -> str:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + len(word) + 1 > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "\n".join([*lines, line])


def _value(row: Row, column: str) -> float | None:
    number = as_number(row.get(column))
    return None if number is None or math.isnan(number) else number  # NaN is no bar


def _x_labels(rows: list[Row], panel: Panel) -> list[str]:
    """Each row's x label; with `by_rank`, the n-th row of every series shares the label of
    the first series' n-th row (measured x values such as an achieved rate differ a little)."""
    if not (panel.by_rank and panel.series):
        return [_label(row, panel.x) for row in rows]
    ranks: dict[str, int] = {}
    first: dict[int, str] = {}
    labels = []
    for row in rows:
        name = str(row.get(panel.series, ""))
        ranks[name] = ranks.get(name, -1) + 1
        labels.append(first.setdefault(ranks[name], _label(row, panel.x)))
    return labels


def _draw(ax: Any, panel: Panel, rows: list[Row]) -> bool:
    measured = [r for r in rows if panel.where(r) and not (panel.peer and panel.peer(r))]
    peers = [r for r in rows if panel.peer and panel.peer(r)]
    if not measured:
        return False
    pairs = list(zip(_x_labels(measured, panel), measured, strict=True))
    xs = list(dict.fromkeys(label for label, _ in pairs))
    if panel.series:
        names = list(dict.fromkeys(str(r.get(panel.series, "")) for r in measured))
        bars = {name: [next((_value(r, panel.metrics[0]) for label, r in pairs
                             if str(r.get(panel.series, "")) == name and label == x), None)
                       for x in xs]
                for name in names}
    else:
        bars = {metric: [next((_value(r, metric) for label, r in pairs if label == x), None)
                         for x in xs]
                for metric in panel.metrics}
    width = 0.8 / max(1, len(bars))
    values = [v for series in bars.values() for v in series if v is not None]
    for index, (name, series) in enumerate(bars.items()):
        positions = [i - 0.4 + width * (index + 0.5) for i in range(len(xs))]
        heights = [v or 0.0 for v in series]
        drawn = ax.bar(positions, heights, width * 0.92, label=_wrap(name, 40))
        ax.bar_label(drawn, labels=[_fmt(v) for v in series], fontsize=7, padding=1)
    peer_label = True
    for i, x in enumerate(xs):
        for peer in peers:
            if _label(peer, panel.x) != x:
                continue
            level = _value(peer, panel.metrics[0])
            if level is None:
                continue
            values.append(level)
            ax.hlines(level, i - 0.45, i + 0.45, colors="black", linestyles="--",
                      label=_wrap(str(peer.get(panel.series or "setup", "peer")), 40)
                      if peer_label else None)
            ax.annotate(_fmt(level), (i + 0.45, level), fontsize=7, va="bottom", ha="right")
            peer_label = False
    if panel.target is not None:
        ax.axhline(panel.target, color="firebrick", linestyle=":", linewidth=1.2,
                   label=f"target {_fmt(panel.target)}")
        values.append(panel.target)
    positive = [v for v in values if v > 0]
    if positive and max(positive) / max(min(positive), 1e-9) > 50:
        ax.set_yscale("log")
        ax.set_ylim(top=max(positive) * 6)  # headroom for the legend
    elif positive:
        ax.set_ylim(0, max(positive) * 1.45)
    ax.set_xticks(range(len(xs)), xs, fontsize=7)
    ax.set_title(panel.title, fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="upper left")
    return True


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _fallback(rows: list[Row]) -> Chart:
    """A benchmark without a spec: its first numeric column, one bar per row."""
    first = rows[0]
    label = next((c for c, v in first.items() if isinstance(v, str)), None)
    metric = next((c for c, v in first.items() if isinstance(v, int | float)), None)
    if metric is None:
        return Chart()
    return Chart((Panel(metric, (metric,), (label,) if label else ()),))


def render_chart(result: dict[str, Any], charts_dir: Path) -> Path | None:
    """Write charts_dir/<name>.png for one result; None when it has nothing to draw."""
    rows = result.get("rows") or []
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    spec = CHARTS.get(result["name"]) or _fallback(rows)
    panels = [p for p in spec.panels if any(p.where(r) for r in rows)]
    if not panels:
        return None
    figure, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.6), squeeze=False)
    drawn = [_draw(ax, panel, rows) for ax, panel in zip(axes[0], panels, strict=True)]
    title = result.get("title", result["name"])
    if result.get("quick"):
        title += " — quick run, indicative"
    elif result.get("repeat", 1) > 1:
        title += f" — medians of {result['repeat']} runs"
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    charts_dir.mkdir(parents=True, exist_ok=True)
    path = charts_dir / f"{result['name']}.png"
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path if any(drawn) else None
