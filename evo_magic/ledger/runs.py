"""``evo_magic.map`` runs in the ledger: one ``runs`` row per run, and the runs section of
``%deepseek usage`` (a thin IO shell over the table, and a pure table of the runs).

A run's requests are ordinary ledger rows with its ``run_id``: their tokens, cost and failures
are summed from them, so the figures hold after a crash. What the requests cannot say — how
many rows the table had, how many were answered without a request (kept from an earlier run,
or identical to another row) and how the run ended — is the run's own row: written when it
starts (``rows``), completed when it ends (:meth:`Runs.end`). A run whose kernel died keeps
``ended`` NULL and shows as "did not finish".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from ..display.money import format_money, if_billed
from ..display.notices import Table
from .pricing import as_utc
from .totals import Request

if TYPE_CHECKING:
    from .store import Ledger


@dataclass(frozen=True)
class RunRecord:
    """One run as its ``runs`` row keeps it. ``rows`` None: unknown (a Dask frame's length is
    known only on the workers); ``kept`` the rows answered without a request; ``ended`` None
    until the run ends (never, when its kernel died); ``stopped`` why it ended early."""

    id: str
    notebook: str
    session: str
    model: str
    at: datetime
    rows: int | None
    kept: int = 0
    failed: int = 0
    left: int | None = None
    stopped: str | None = None
    ended: datetime | None = None


class Runs:
    """The ``runs`` table of one ledger."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def begin(self, run: RunRecord) -> None:
        sql = "INSERT OR REPLACE INTO runs (id, notebook, session, model, at, rows) VALUES (?, ?, ?, ?, ?, ?)"
        values = (run.id, run.notebook, run.session, run.model, _iso(run.at), run.rows)
        self.ledger.write(lambda conn: conn.execute(sql, values))

    def end(self, run_id: str, *, kept: int, failed: int, left: int, stopped: str | None) -> None:
        sql = "UPDATE runs SET kept = ?, failed = ?, left_rows = ?, stopped = ?, ended = ? WHERE id = ?"
        values = (kept, failed, left, stopped, _iso(datetime.now(timezone.utc)), run_id)
        self.ledger.write(lambda conn: conn.execute(sql, values))

    def of(self, notebook: str | None = None) -> list[RunRecord]:
        """The runs of ``notebook`` (all when None), oldest first."""
        where, params = (" WHERE notebook = ?", [notebook]) if notebook is not None else ("", [])
        return [
            RunRecord(
                r["id"], r["notebook"], r["session"], r["model"], datetime.fromisoformat(r["at"]), r["rows"],
                r["kept"], r["failed"], r["left_rows"], r["stopped"],
                None if r["ended"] is None else datetime.fromisoformat(r["ended"]),
            )
            for r in self.ledger.query(f"SELECT * FROM runs{where} ORDER BY at", params)
        ]  # fmt: skip


class RunRequest(Request, Protocol):
    """What the runs section reads of a request (a ``UsageRecord``)."""

    @property
    def run_id(self) -> str | None: ...
    @property
    def completion_tokens(self) -> int | None: ...


@dataclass
class RunTotals:
    """One run's line of the usage view: its row (when kept) and its requests' sums."""

    id: str
    run: RunRecord | None
    at: datetime
    requests: int = 0
    failed_requests: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost: Decimal = Decimal(0)
    unknown: int = 0
    offline: bool = False
    notes: list[str] = field(default_factory=list)


def run_totals(requests: Iterable[RunRequest], runs: Sequence[RunRecord] = ()) -> list[RunTotals]:
    """Per run of ``requests`` (those with a ``run_id``), oldest first."""
    known = {r.id: r for r in runs}
    found: dict[str, RunTotals] = {}
    for q in requests:
        if q.run_id is None:
            continue
        t = found.get(q.run_id)
        if t is None:
            run = known.get(q.run_id)
            t = found[q.run_id] = RunTotals(q.run_id, run, run.at if run is not None else q.time)
        t.requests += 1
        t.failed_requests += q.outcome == "error"
        t.tokens_in += q.prompt_tokens or 0
        t.tokens_out += q.completion_tokens or 0
        t.offline = t.offline or q.offline
        if q.cost is not None:
            t.cost += q.cost
        elif q.outcome != "error":
            t.unknown += 1
    for run in runs:  # a run every row of which was answered earlier sent no request
        if run.id not in found:
            found[run.id] = RunTotals(run.id, run, run.at)
    return sorted(found.values(), key=lambda t: as_utc(t.at))


def runs_table(totals: Sequence[RunTotals]) -> Table:
    """The runs section of ``%deepseek usage``: one line per run."""
    headers = ["run", "started (UTC)", "rows", "requests", "cached", "failed", "tokens in", "tokens out", "cost"]
    headers.append("ended")
    return Table("Map runs", headers, [_line(t) for t in totals])


def _line(t: RunTotals) -> list[str]:
    run = t.run
    rows = "?" if run is None or run.rows is None else f"{run.rows:,}"
    cached = "?" if run is None or run.ended is None else f"{run.kept:,}"
    failed = f"{run.failed:,}" if run is not None and run.ended is not None else f"{t.failed_requests:,}"
    cost = format_money(t.cost) + (f" + {t.unknown} unknown" if t.unknown else "")
    return [t.id, f"{as_utc(t.at):%Y-%m-%d %H:%M}", rows, f"{t.requests:,}", cached, failed, f"{t.tokens_in:,}",
            f"{t.tokens_out:,}", if_billed(cost) if t.offline else cost, _ended(run)]  # fmt: skip


def _ended(run: RunRecord | None) -> str:
    if run is None:
        return ""
    if run.ended is None:
        return "did not finish"
    if run.stopped is None:
        return "done"
    left = f" ({run.left:,} left)" if run.left else ""
    return f"{run.stopped}{left}"


def _iso(at: datetime) -> str:
    return as_utc(at).isoformat(timespec="microseconds")


__all__ = ["RunRecord", "RunTotals", "Runs", "run_totals", "runs_table"]
