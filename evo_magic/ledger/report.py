"""What ``%deepseek usage`` shows and ``evo_magic.usage()`` returns (pure: no sqlite3, no IPython).

* :class:`UsageRecord`: one request as plain data (tokens ``None`` when the API reported no
  usage, cost ``None`` when unknown; never 0 for either).
* :class:`UsageRows`: a list of records with ``.to_pandas()``, ``.to_csv(path)``,
  ``.total_cost`` and ``.totals()``; displaying it shows its :class:`UsageView`.
* :class:`UsageView`: totals per group (session and model, or notebook, session and model),
  a grand total with the cache-hit share, and spend over time: an inline SVG in HTML
  (:func:`~evo_magic.ledger.chart.spend_chart_svg`), a sparkline in text; then, when there were
  ``evo_magic.map`` runs, one line per run (:mod:`~evo_magic.ledger.runs`).

Money stays :class:`~decimal.Decimal` from the ledger to the CSV and the DataFrame, so sums are
exact; the display rounds to at most 4 decimals and says the exact total beside it. Requests the
bundled emulator answered (``offline``) are shown, but apart: their model reads
``deepseek-v4-flash (emulator)``, their would-be cost is never added to the spend (the total line
says it separately, "emulator, not billed") and the chart plots them at $0.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass, fields
from datetime import datetime
from decimal import Decimal
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any, SupportsIndex, overload

from ..core.status import Origin, Outcome, status_label
from ..display.money import format_money, if_billed
from ..display.notices import NO_MATH, plural
from .chart import SpendPoint, series, sparkline, spend_chart_svg, summary
from .pricing import as_utc
from .runs import RunRecord, run_totals, runs_table
from .totals import STARTED, Totals, cost_unknown, group_totals, totals_table

if TYPE_CHECKING:
    from pandas import DataFrame

    from .store import LedgerRow

__all__ = ["UsageRecord", "UsageRows", "UsageView", "spend_chart_svg"]

NOTEBOOK_BY = ("session", "model")
ALL_BY = ("notebook", "session", "model")
_INTS = ("cell", "prompt_tokens", "cache_hit_tokens", "cache_miss_tokens", "completion_tokens", "reasoning_tokens")


@dataclass(frozen=True)
class UsageRecord:
    """One request of the ledger as plain data.

    ``time`` is when it started (UTC); ``origin`` is cell, panel or api and ``cell`` the
    execution count; the token fields are None when the API reported no usage (interrupted,
    failed), ``reasoning_tokens`` also when the API did not say; ``cost`` is exact USD, None
    when unknown; ``ttft`` and ``elapsed`` are seconds; ``outcome`` is ok, length,
    interrupted, error, started (never settled: answering, or its kernel died), ... and
    ``error`` the error kind. ``offline`` is True for a request the bundled emulator answered
    (``%deepseek offline``): its ``cost`` is what DeepSeek would have charged, billed to nobody.
    ``request_key`` is the SHA-256 of the exact request; ``run_id`` names the ``evo_magic.map``
    run a request belongs to (origin ``map``), else None; an answer the answer cache gave
    (outcome ``cached``: nothing was sent) costs 0 and ``saved`` what asking again would have cost.
    """

    time: datetime
    notebook: str
    session: str
    origin: Origin
    cell: int | None
    model_requested: str
    model_answered: str | None
    protocol: str
    prompt_tokens: int | None
    cache_hit_tokens: int | None
    cache_miss_tokens: int | None
    completion_tokens: int | None
    reasoning_tokens: int | None
    cost: Decimal | None
    ttft: float | None
    elapsed: float | None
    outcome: Outcome
    error: str | None
    response_id: str | None = None
    offline: bool = False
    request_key: str | None = None
    run_id: str | None = None
    saved: Decimal | None = None

    @property
    def model(self) -> str:
        """The model that answered, else the one requested (what totals group by)."""
        return self.model_answered if self.model_answered is not None else self.model_requested

    @classmethod
    def from_ledger(cls, row: LedgerRow) -> UsageRecord:
        """The record of a :class:`~evo_magic.ledger.store.LedgerRow` (read by attribute)."""
        usage = row.usage
        tokens = {
            "prompt_tokens": None if usage is None else usage.prompt_tokens,
            "cache_hit_tokens": None if usage is None else usage.cache_hit_tokens,
            "cache_miss_tokens": None if usage is None else usage.cache_miss_tokens,
            "completion_tokens": None if usage is None else usage.completion_tokens,
            "reasoning_tokens": None if usage is None else usage.reasoning_tokens,
        }
        return cls(
            time=as_utc(row.at),
            notebook=row.notebook,
            session=row.session,
            origin=row.origin,
            cell=row.cell,
            model_requested=row.model_requested,
            model_answered=row.model_answered,
            protocol=row.protocol,
            cost=row.cost,
            ttft=row.ttft,
            elapsed=row.elapsed,
            outcome=row.outcome,
            error=row.error,
            response_id=row.response_id,
            offline=row.offline,
            request_key=row.request_key,
            run_id=row.run_id,
            saved=row.saved,
            **tokens,
        )


COLUMNS = tuple(f.name for f in fields(UsageRecord))


class UsageRows(list[UsageRecord]):
    """Requests of the ledger, oldest first: a list of :class:`UsageRecord`.

    ``title`` and ``by`` (the grouping of the totals) are how it displays; a slice is a
    ``UsageRows`` too, so ``evo_magic.usage()[-20:]`` shows the last twenty requests.
    ``runs`` holds the ``evo_magic.map`` runs of these requests (their rows, how they ended).
    """

    def __init__(
        self, records: Iterable[UsageRecord] = (), *, title: str = "Usage", by: Sequence[str] = NOTEBOOK_BY,
        runs: Sequence[RunRecord] = (),
    ) -> None:  # fmt: skip
        super().__init__(records)
        self.title = title
        self.by = tuple(by)
        self.runs = list(runs)

    @overload
    def __getitem__(self, index: SupportsIndex) -> UsageRecord: ...
    @overload
    def __getitem__(self, index: slice) -> UsageRows: ...
    def __getitem__(self, index: SupportsIndex | slice) -> UsageRecord | UsageRows:
        if isinstance(index, slice):
            return UsageRows(super().__getitem__(index), title=self.title, by=self.by, runs=self.runs)
        return super().__getitem__(index)

    @property
    def total_cost(self) -> Decimal:
        """Exact sum of the known costs of billed requests (requests of unknown cost are not in
        it: see :attr:`unknown_cost`; nor are the emulator's, which nobody is billed for)."""
        return sum((r.cost for r in self if r.cost is not None and not r.offline), Decimal(0))

    @property
    def unknown_cost(self) -> int:
        """How many billed requests may have cost something that cannot be priced."""
        return sum(cost_unknown(r) for r in self if not r.offline)

    def totals(self, by: Sequence[str] | None = None) -> list[Totals]:
        """Sums per group (default: :attr:`by`; any of :data:`~evo_magic.ledger.totals.GROUPS`)."""
        return group_totals(self, self.by if by is None else by)

    def view(self) -> UsageView:
        return UsageView(self, title=self.title, by=self.by, runs=self.runs)

    def __repr__(self) -> str:
        return repr(self.view())

    def _repr_html_(self) -> str:
        return self.view()._repr_html_()

    # --- export --------------------------------------------------------------------------
    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write a header and one line per request to ``path`` (``~`` expanded; UTF-8) and
        return its absolute path. ``time`` is ISO 8601 UTC, ``cost`` the exact decimal (never in
        exponent form); unknown values (no usage, unknown cost, no cell) are empty, never 0.
        Raises :class:`OSError` when the file cannot be written."""
        target = Path(path).expanduser().absolute()
        with target.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(COLUMNS)
            writer.writerows([_csv_cell(v) for v in astuple(record)] for record in self)
        return target

    def to_pandas(self) -> DataFrame:
        """A :class:`pandas.DataFrame`, one row per request, columns as :data:`COLUMNS`.

        ``time`` is tz-aware UTC (datetime64); ``cell`` and the token columns are nullable
        ``Int64`` (``<NA>`` when the API reported no usage, never 0); ``ttft`` and ``elapsed``
        are float seconds. ``cost`` holds exact :class:`~decimal.Decimal` objects (``None`` when
        unknown) in an object column: ``df.cost.sum()`` and ``groupby(...).cost.sum()`` stay
        exact. For plotting, ``df.cost.astype(float)`` gives floats with NaN for unknown.
        """
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("UsageRows.to_pandas() needs pandas: pip install pandas") from None
        data: dict[str, Any] = {name: [getattr(r, name) for r in self] for name in COLUMNS}
        data["time"] = pd.to_datetime(data["time"], utc=True)
        for name in _INTS:
            data[name] = pd.array(data[name], dtype="Int64")
        for name in ("ttft", "elapsed"):
            data[name] = pd.array([float("nan") if v is None else v for v in data[name]], dtype="float64")
        data["cost"] = pd.Series(data["cost"], dtype=object)
        data["saved"] = pd.Series(data["saved"], dtype=object)
        return pd.DataFrame(data, columns=list(COLUMNS))


class UsageView:
    """Totals per group, the grand total and spend over time, as HTML and as text."""

    def __init__(
        self, records: Iterable[UsageRecord], *, title: str = "Usage", by: Sequence[str] = NOTEBOOK_BY,
        runs: Sequence[RunRecord] = (),
    ) -> None:  # fmt: skip
        self.records = list(records)
        self.title = title
        self.by = tuple(by)
        self.runs = run_totals(self.records, runs)
        self.totals = group_totals(self.records, self.by)
        grand = group_totals(self.records, ())
        self.total: Totals | None = grand[0] if grand else None
        self.series = series(self._point(r) for r in self.records)

    def _point(self, r: UsageRecord) -> SpendPoint:
        parts = [f"{as_utc(r.time):%Y-%m-%d %H:%M:%S} UTC"]
        if "notebook" in self.by:
            parts.append(r.notebook)
        parts += [r.session, r.model] + ([] if r.cell is None else [f"cell {r.cell}"])
        if r.outcome == STARTED:
            parts.append(status_label(STARTED))
        elif r.outcome == "cached":
            parts.append(f"from the cache, saved {format_money(r.saved)}")
        elif r.outcome != "ok":
            parts.append(r.outcome if r.error is None else f"{r.outcome} ({r.error})")
        billable = r.cost is not None or cost_unknown(r)  # else it failed before any token: not billed
        if r.offline:  # billed to nobody: plotted at $0, with what DeepSeek would have charged
            parts.append(if_billed(format_money(r.cost)) if billable else "emulator")
        return SpendPoint(r.time, r.cost if billable and not r.offline else Decimal(0), " · ".join(parts))

    def total_line(self) -> str:
        """``Total: $0.3390 + 2 unknown (exactly $0.3390164624) · 8 requests · …``; with emulator
        requests, ``Total: $0.3390 · emulator, not billed: $0.0013 · 11 requests (3 emulator) · …``."""
        cost, exact, rest = self._total_parts()
        return " · ".join([f"Total: {cost}" + (f" (exactly {exact})" if exact else ""), *rest]) if cost else rest[0]

    def _total_parts(self) -> tuple[str, str | None, list[str]]:
        t = self.total
        if t is None:
            return "", None, ["No requests recorded yet."]
        requests = plural(t.requests, "request") + t.requests_text()[len(f"{t.requests:,}") :]
        share = t.cache_hit_share
        inputs = f"{t.prompt_tokens:,} input tokens" + ("" if share is None else f" ({share:.0%} from cache)")
        reasoning = f" ({t.reasoning_tokens:,} reasoning)" if t.reasoning_tokens else ""
        rest = [requests, inputs, f"{t.completion_tokens:,} output tokens{reasoning}"]
        if t.cached:
            rest.insert(0, f"{t.saved_text} ({plural(t.cached, 'answer')})")
        if t.emulator:
            rest.insert(0, f"emulator, not billed: {t.emulator_text}")
        return t.billed_text, _exact(t.cost) if t.priced else None, rest

    def chart_text(self) -> str:
        """The one-sentence summary of spend over time, and its sparkline when there is one."""
        if self.total is None:
            return ""
        line = sparkline(self.series)
        return self._summary() + (f"\n{line}" if line else "")

    def _summary(self) -> str:
        """:func:`summary`, saying why nothing was billed when the emulator answered."""
        text = summary(self.series)
        if self.total is not None and self.total.emulator and not self.series.drawable:
            text += f" ({self.total.emulator:,} answered by the emulator)"
        return text

    def __repr__(self) -> str:
        table = totals_table(self.totals, self.by, self.title)
        runs = repr(runs_table(self.runs)) if self.runs else ""
        return "\n".join(part for part in (repr(table), self.total_line(), self.chart_text(), runs) if part)

    def _repr_html_(self) -> str:
        table = totals_table(self.totals, self.by, self.title)._repr_html_()
        t = self.total
        chart = spend_chart_svg(self.series) if t is not None else ""
        if t is not None and not chart:  # nothing billed, or nothing known: say so instead of a chart
            chart = f"<div style='opacity:.7'>{escape(self._summary())}.</div>"
        cost, exact, rest = self._total_parts()
        total = " · ".join(escape(part) for part in rest)
        if cost:
            note = f" <span style='opacity:.7'>(exactly {escape(exact)})</span>" if exact else ""
            total = f"Total: <strong>{escape(cost)}</strong>{note} · {total}"
        runs = runs_table(self.runs)._repr_html_() if self.runs else ""
        return (
            f"<div class='evo-usage {NO_MATH}'>{table}<div class='evo-usage-total' style='margin:4px 0'>{total}</div>"
            f"{chart}{runs}</div>"
        )


def _exact(cost: Decimal) -> str | None:
    """``$0.3390164624`` when :func:`format_money` rounds ``cost``; None when it shows it exactly."""
    shown = format_money(cost)
    if not shown.startswith("<") and Decimal(shown.replace("$", "").replace(",", "")) == cost:
        return None
    return f"${cost:,f}"


def _csv_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    return str(value)
