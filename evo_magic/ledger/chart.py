"""Cumulative spend over time as a small inline SVG, and as a text sparkline (pure).

No plotting library: the chart is a few hundred bytes of plain SVG per point, deterministic
(same input, same bytes), well-formed XML with every text escaped, and themed through
``currentColor`` and JupyterLab / VS Code CSS variables (with fallbacks), so it reads in light
and dark themes. Times are shown in UTC.

A point is one request: its time and its cost, ``None`` when unknown. Unknown costs are counted
and said, never plotted as $0. Past ``max_points`` priced requests, they are summed into
equal time intervals so the SVG stays small however long the ledger grows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from html import escape

from ..display.money import format_money
from ..display.notices import plural
from .pricing import as_utc

WIDTH, HEIGHT = 560, 140
MAX_POINTS = 200
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 14, 12, 24  # margins around the plot area
_ACCENT = "var(--jp-brand-color1, var(--vscode-charts-blue, #3b82f6))"
_BARS = "▂▃▄▅▆▇█"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class SpendPoint:
    """One request: when it started, what it cost (None: unknown) and a tooltip label."""

    at: datetime
    cost: Decimal | None
    label: str = ""


@dataclass(frozen=True)
class Step:
    """One plotted dot: a request, or the priced requests of one time interval."""

    at: datetime  # time of its last request
    cost: Decimal  # spent in it
    total: Decimal  # cumulative known spend at its end
    requests: int
    label: str


@dataclass(frozen=True)
class Series:
    """Points prepared for drawing: the steps, the time range and what was left out."""

    steps: tuple[Step, ...]
    start: datetime | None  # first request (priced or not)
    end: datetime | None  # last request
    requests: int
    unknown: int  # requests with an unknown cost (not plotted)
    bucketed: bool

    @property
    def total(self) -> Decimal:
        return self.steps[-1].total if self.steps else Decimal(0)

    @property
    def known(self) -> bool:
        """Whether there is known spend to show: some priced request, and not only $0 ones
        beside requests of unknown cost (that would read as "it cost nothing")."""
        return bool(self.steps) and (self.total > 0 or not self.unknown)

    @property
    def drawable(self) -> bool:
        """Whether a chart says anything: some known spend above $0 (else it is a flat line)."""
        return self.known and self.total > 0


def series(points: Iterable[SpendPoint | tuple[datetime, Decimal | None]], max_points: int = MAX_POINTS) -> Series:
    """Sort ``points`` by time and accumulate the known costs; past ``max_points`` priced
    requests, sum them into ``max_points`` equal intervals (empty ones are dropped)."""
    pts = sorted((_point(p) for p in points), key=lambda p: as_utc(p.at))
    priced = [p for p in pts if p.cost is not None]
    if not pts:
        return Series((), None, None, 0, 0, False)
    start, end = as_utc(pts[0].at), as_utc(pts[-1].at)
    groups: list[list[SpendPoint]] = [[p] for p in priced]
    bucketed = len(priced) > max_points
    if bucketed:
        span = end - start
        buckets: dict[int, list[SpendPoint]] = {}
        for p in priced:
            index = min((as_utc(p.at) - start) * max_points // span, max_points - 1) if span else 0
            buckets.setdefault(index, []).append(p)
        groups = [buckets[i] for i in sorted(buckets)]
    steps, total = [], Decimal(0)
    for group in groups:
        cost = sum((p.cost or Decimal(0) for p in group), Decimal(0))
        total += cost
        label = group[0].label if len(group) == 1 else _during(group[0].at, group[-1].at)
        steps.append(Step(as_utc(group[-1].at), cost, total, len(group), label))
    return Series(tuple(steps), start, end, len(pts), len(pts) - len(priced), bucketed)


def summary(s: Series, subject: str = "") -> str:
    """One sentence: ``Spend over time: $0.0123 in 14 requests from … to … UTC; …``."""
    head = f"Spend over time{f' of {subject}' if subject else ''}"
    if s.start is None or s.end is None:
        return f"{head}: no requests yet"
    spent = "nothing billed" if s.known and not s.total else format_money(s.total) if s.known else "no known cost"
    first, last = _times(s.start, s.end)
    when = f"from {first} to {last} UTC" if last else f"at {first} UTC"
    text = f"{head}: {spent} in {plural(s.requests, 'request')} {when}"
    if s.unknown:
        text += f"; {s.unknown} with unknown cost, not plotted"
    if s.bucketed and s.drawable:  # the chart's intervals: none without a chart
        text += f" (summed into {len(s.steps)} intervals)"
    return text


def spend_chart_svg(
    points: Iterable[SpendPoint | tuple[datetime, Decimal | None]] | Series, *, subject: str = ""
) -> str:
    """A ~560×140 inline SVG of cumulative known spend over time: a step line with a dot per
    request (or per interval past :data:`MAX_POINTS`), money on the y axis, the first and
    last times on the x axis, and an accessible title. ``""`` when nothing has a known cost
    above $0 (a flat line at "$0.00" says nothing; :func:`summary` does)."""
    s = points if isinstance(points, Series) else series(points)
    if not s.drawable or s.start is None or s.end is None:
        return ""
    start, end = s.start, s.end
    x0, x1, y0, y1 = _LEFT, WIDTH - _RIGHT, HEIGHT - _BOTTOM, _TOP
    span = (end - start).total_seconds()
    top = s.total

    def x(at: datetime) -> float:
        return (x0 + x1) / 2 if not span else x0 + (x1 - x0) * (at - start).total_seconds() / span

    def y(value: Decimal) -> float:
        return y0 if not top else y0 - (y0 - y1) * float(value / top)

    line = f"M{x(start):.1f},{y0:.1f}" + "".join(f"H{x(st.at):.1f}V{y(st.total):.1f}" for st in s.steps)
    line += f"H{x(end):.1f}"
    dots = "".join(
        f'<circle cx="{x(st.at):.1f}" cy="{y(st.total):.1f}" r="2.5"><title>{_xml(_tooltip(st))}</title></circle>'
        for st in s.steps
    )
    label = _xml(summary(s, subject))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="evo-spend-chart" role="img" aria-label="{label}" '
        f'width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        'style="display:block;max-width:100%;height:auto;font:11px var(--jp-ui-font-family, sans-serif)">'
        f"<title>{label}</title>"
        f'<g style="stroke:currentColor;stroke-opacity:.25;stroke-width:1">'
        f'<line x1="{x0}" y1="{y1}" x2="{x1}" y2="{y1}" stroke-dasharray="3 3"/>'
        f'<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y0}"/></g>'
        '<g style="fill:currentColor;fill-opacity:.75">'
        f'<text x="{x0 - 6}" y="{y1 + 4}" text-anchor="end">{_xml(format_money(top))}</text>'
        f'<text x="{x0 - 6}" y="{y0 + 4}" text-anchor="end">{_xml(format_money(Decimal(0)))}</text>'
        f"{_time_labels(start, end)}</g>"
        f'<path d="{line}V{y0:.1f}Z" style="fill:{_ACCENT};fill-opacity:.12;stroke:none"/>'
        f'<path d="{line}" style="fill:none;stroke:{_ACCENT};stroke-width:1.5"/>'
        f'<g style="fill:{_ACCENT}">{dots}</g></svg>'
    )


def _time_labels(start: datetime, end: datetime) -> str:
    """The x axis: the first time at the left and the last at the right, or the one time in the middle."""
    x0, x1, y = _LEFT, WIDTH - _RIGHT, HEIGHT - 8
    first, last = _times(start, end)
    if not last:
        return f'<text x="{(x0 + x1) / 2:.1f}" y="{y}" text-anchor="middle">{first} UTC</text>'
    return (
        f'<text x="{x0}" y="{y}" text-anchor="start">{first}</text>'
        f'<text x="{x1}" y="{y}" text-anchor="end">{last} UTC</text>'
    )


def sparkline(points: Iterable[SpendPoint | tuple[datetime, Decimal | None]] | Series, width: int = 40) -> str:
    """Known spend per equal time interval as block characters, first and last time around it:
    ``09:04 ▂▂▅▂█▃ 11:30 UTC`` (``▁`` is an interval without known spend). ``""`` without
    known cost above $0."""
    s = points if isinstance(points, Series) else series(points, max_points=10**9)
    if not s.drawable or s.start is None or s.end is None:
        return ""
    start, span = s.start, s.end - s.start
    width = width if span else 1
    sums = [Decimal(0)] * width
    for st in s.steps:
        sums[min((st.at - start) * width // span, width - 1) if span else 0] += st.cost
    high = max(sums)
    bars = "".join(
        "▁" if not v else _BARS[min(int(v * len(_BARS) / high), len(_BARS) - 1)] if high else "▁" for v in sums
    )
    first, last = _times(start, s.end)
    return f"{first} {bars} {last} UTC" if last else f"{bars} {first} UTC"


def _tooltip(st: Step) -> str:
    if st.requests == 1:
        return f"{st.label}{': ' if st.label else ''}{format_money(st.cost)} (total {format_money(st.total)})"
    return f"{st.label}: {plural(st.requests, 'request')}, {format_money(st.cost)} (total {format_money(st.total)})"


def _point(p: SpendPoint | Sequence[object]) -> SpendPoint:
    if isinstance(p, SpendPoint):
        return p
    at, cost = p[0], p[1]
    if not isinstance(at, datetime) or not (cost is None or isinstance(cost, Decimal)):
        raise TypeError(f"a spend point is (datetime, Decimal | None), not {p!r}")
    return SpendPoint(at, cost)


def _time(at: datetime, since: datetime | None = None) -> str:
    """``2026-06-10 09:04`` (UTC); only ``09:30`` when ``since`` is the same day."""
    at = as_utc(at)
    same_day = since is not None and as_utc(since).date() == at.date()
    return at.strftime("%H:%M" if same_day else "%Y-%m-%d %H:%M")


def _times(start: datetime, end: datetime) -> tuple[str, str]:
    """``start`` and ``end`` as they print; ``end`` is ``""`` when it prints as ``start`` (the
    same minute), so a span inside one minute reads "at 13:35", never "from 13:35 to 13:35"."""
    first = _time(start)
    return first, "" if _time(end) == first else _time(end, start)


def _during(start: datetime, end: datetime) -> str:
    """``09:04 to 09:30 UTC``, or ``09:04 UTC`` when both print the same."""
    first, last = _times(start, end)
    return f"{first} to {last} UTC" if last else f"{first} UTC"


def _xml(text: str) -> str:
    """Escaped for XML text and attributes; characters XML 1.0 cannot hold are dropped."""
    return escape(_NOT_XML.sub("", text), quote=True)


__all__ = ["MAX_POINTS", "Series", "SpendPoint", "Step", "series", "sparkline", "spend_chart_svg", "summary"]
