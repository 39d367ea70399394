"""``evo_magic.map``: one prompt over every row of a table, on the kernel's session, ledger,
prices and budget (IO: the orchestration of the batch modules).

:func:`map_rows` checks everything before the first request — the data, the template against
its columns, the schema, every request option (validated once, as a cell's), the key and the
budget — then answers from the request-keyed store (:class:`~evo_magic.batch.record.RunStore`) every
row an earlier run already answered, sends one request per remaining distinct row
(:mod:`~evo_magic.batch.engine`), retries once each answer the schema refuses, and returns a
table of the data's kind with the run's summary in ``out.attrs["evo_magic"]``. ``dry_run``
returns the :class:`~evo_magic.batch.plan.Estimate` instead (``pilot=N`` sends N rows first,
for real, to measure their output).
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..display.notices import Notice
from ..errors import OptionError
from ..ledger.pricing import load_table
from ..ledger.runs import RunRecord, Runs
from ..sessions.cache import CacheMiss
from .checks import check_concurrency, prepare, refuse_past_budget, refuse_unkept, replay_only
from .engine import Ask, Engine, Outcome
from .job import Job
from .plan import Estimate, estimate
from .progress import Counts, ProgressMode, open_progress
from .record import Recorder, RunStore, Where
from .results import MapSummary, SummaryFields, columns_of
from .subshell import route_clicks
from .table import Table, module_of, result_of, table_of

if TYPE_CHECKING:
    from ..config import Endpoint
    from ..runtime import Runtime

DEFAULT_CONCURRENCY = 32
LEFT = {"stop": "not answered (the run was stopped)", "budget": "not answered (the budget was reached)",
        "interrupted": "not answered (interrupted)"}  # fmt: skip


def kept_line(why: str, summary: MapSummary) -> str:
    """``Stopped: 412 of 1,000 rows done and kept; run the same call again to finish the 588 left.``"""
    return (f"{why}: {summary.answered + summary.failed:,} of {summary.rows:,} rows done and kept; "
            f"run the same call again to finish the {summary.left:,} left.")  # fmt: skip


class MapInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run: every finished row is kept (in the store, and in ``result``, the
    partial table); the same call again finishes the rest."""

    def __init__(self, result: Any, summary: MapSummary) -> None:
        super().__init__(kept_line("Interrupted", summary))
        self.result = result
        self.summary = summary

    def _render_traceback_(self) -> list[str]:
        """IPython shows this one line instead of a traceback."""
        return [str(self)]


def map_rows(
    data: Any,
    template: str,
    schema: Any = None,
    *,
    session: str | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    dry_run: bool = False,
    pilot: int | None = None,
    progress: ProgressMode | bool = "auto",
    on_progress: Callable[[Counts], object] | None = None,
    cell: int | None = None,
    runtime: Runtime | None = None,
    send_key_to_workers: bool = False,
    **options: Any,
) -> Any:
    """See :func:`evo_magic.map` (the public form, with the full description)."""
    from ..runtime import root

    rt = runtime or root()
    if module_of(data) == "dask":
        from .dask import map_dask

        if replay_only(rt):
            raise CacheMiss("replay-only: a Dask run is answered on its workers, which send every row; "
                            "run it without replay-only")

        return map_dask(data, template, schema, rt, session=session, concurrency=concurrency,
                        send_key_to_workers=send_key_to_workers, **options)  # fmt: skip
    if send_key_to_workers:
        raise OptionError("send_key_to_workers goes with a Dask DataFrame: other data is answered in this kernel")
    check_concurrency(concurrency)
    table = table_of(data)
    job, endpoint = prepare(rt, table, template, schema, session, options)
    stored = RunStore(rt.accounting.ledger, endpoint.offline)
    replaying = replay_only(rt)
    if replaying and (pilot or not dry_run):
        refuse_unkept(job, stored)
    if dry_run or pilot:
        plan = plan_run(rt, job, endpoint, stored, pilot or 0, concurrency)
        if dry_run:
            return plan
    refuse_past_budget(rt, endpoint, len(job.first))
    return _run(rt, table, job, endpoint, stored, concurrency, progress, on_progress, cell, replaying)


def plan_run(rt: Runtime, job: Job, endpoint: Endpoint, stored: RunStore, pilot: int, concurrency: int) -> Estimate:
    """The estimate of what the run would still send; ``pilot`` rows are sent first (and kept)."""
    found = stored.get_many(job.distinct)
    todo = [k for k in job.distinct if k not in found]
    measured: list[int] | None = None
    if pilot:
        if isinstance(pilot, bool) or not isinstance(pilot, int) or pilot < 1:
            raise OptionError(f"pilot must be a whole number of rows, 1 or more, not {pilot!r}")
        refuse_past_budget(rt, endpoint, pilot)
        engine = _engine(rt, job, endpoint, concurrency, "none", None, None)
        _begin(rt, engine, len(todo[:pilot]))
        outcome, _ = engine.run([Ask(k, job.first[k], k) for k in todo[:pilot]])
        counts = engine.counts
        Runs(rt.accounting.ledger).end(engine.recorder.where.run_id, kept=0, failed=counts.failed,
                                       left=len(todo[:pilot]) - counts.done - counts.failed, stopped=outcome.stopped)
        measured = [a.usage.completion_tokens for k in todo[:pilot] if (a := engine.answers.get(k)) and a.usage]
        todo = todo[pilot:]
    table = load_table(overrides=rt.accounting.prices or None)
    plan = estimate(job.bodies(todo), prices=table, pilot=measured or None, model=job.opts.model)
    left = set(todo)
    return plan.with_rows(len(job.keys), sum(1 for k in job.keys if k not in left), job.notes)


def _engine(
    rt: Runtime, job: Job, endpoint: Endpoint, concurrency: int, progress: ProgressMode | bool,
    on_progress: Callable[[Counts], object] | None, cell: int | None,
) -> Engine:  # fmt: skip
    where = Where(rt.accounting.notebook, job.session, job.opts.model, job.opts.protocol, uuid.uuid4().hex[:12],
                  endpoint.offline, cell, dict(rt.accounting.prices))  # fmt: skip
    counts = Counts(len(job.keys))
    view = open_progress(progress, counts, on_progress, clicks=lambda button: route_clicks(button, rt))
    return Engine(job, endpoint, Recorder(rt.accounting.ledger, where), counts, view, concurrency,
                  rt.defaults.transport, _budget_left(rt, endpoint))  # fmt: skip


def _begin(rt: Runtime, engine: Engine, rows: int) -> None:
    """The run's own ledger row (what its requests cannot say: see :mod:`~evo_magic.ledger.runs`)."""
    w = engine.recorder.where
    run = RunRecord(w.run_id, w.notebook, w.session, w.model, datetime.now(timezone.utc), rows)
    Runs(rt.accounting.ledger).begin(run)


def _budget_left(rt: Runtime, endpoint: Endpoint) -> Decimal | None:
    budget = rt.accounting.budget
    if budget is None or endpoint.offline:
        return None
    return budget - rt.accounting.ledger.spend(rt.accounting.notebook).cost


def _run(
    rt: Runtime, table: Table, job: Job, endpoint: Endpoint, stored: RunStore, concurrency: int,
    progress: ProgressMode | bool, on_progress: Callable[[Counts], object] | None, cell: int | None,
    replaying: bool = False,
) -> Any:  # fmt: skip
    started = time.monotonic()
    engine = _engine(rt, job, endpoint, concurrency, progress, on_progress, cell)
    _begin(rt, engine, len(job.keys))
    to_send = _from_store(engine, stored, [Ask(k, job.first[k], k) for k in job.distinct])
    outcome, retries = engine.run(_unsent(engine, to_send) if replaying else to_send)
    if retries and outcome.stopped is None:
        outcome, _ = engine.run(_from_store(engine, stored, retries))
    return _finish(rt, table, job, engine, outcome, time.monotonic() - started)


def _from_store(engine: Engine, stored: RunStore, asks: list[Ask]) -> list[Ask]:
    """Settle the asks an earlier run answered (and the schema retries of those, when kept
    too); what is left to send."""
    to_send: list[Ask] = []
    pending = asks
    while pending:
        found = stored.get_many(a.key for a in pending)
        retries: list[Ask] = []
        for ask in pending:
            kept = found.get(ask.key)
            if kept is None:
                to_send.append(ask)
                continue
            snap = kept.snapshot()
            retry = engine.kept(ask.owner, snap.text, snap.usage, kept.cost, ask.retry is not None)
            if retry is not None:
                retries.append(Ask(engine.job.key(engine.job.body(ask.row, retry)), ask.row, ask.owner, retry))
        pending = retries
    return to_send


def _unsent(engine: Engine, asks: list[Ask]) -> list[Ask]:
    """Under ``replay-only`` nothing is sent: the schema retry of a kept answer that was not
    kept too (its run ended before it) becomes the row's error."""
    for ask in asks:
        why = "replay-only: no kept answer"
        if ask.retry is not None:
            why = f"replay-only: the answer does not match the schema and its retry was never kept: {ask.retry.problem}"
        engine.resolve(ask.owner, None, why, True)
    return []


def _finish(rt: Runtime, table: Table, job: Job, engine: Engine, outcome: Outcome, elapsed: float) -> Any:
    counts = engine.counts
    left = LEFT.get(outcome.stopped or "", f"not answered ({outcome.stopped})")
    out = result_of(table, columns_of(job.keys, job.first, engine.answers, job.schema, left))
    summary = _summary(job, engine, outcome, elapsed)
    Runs(rt.accounting.ledger).end(summary.run_id, kept=summary.kept + summary.repeated, failed=summary.failed,
                                   left=summary.left, stopped=outcome.stopped)
    engine.view.close(counts, "\n".join([summary.line(), *summary.notes]))  # the gaps said under it
    _attach(out, summary)
    if outcome.interrupted:
        raise MapInterrupted(out, summary)
    fatal = outcome.summary.fatal if outcome.summary is not None else None
    if fatal is not None:
        raise fatal
    if outcome.stopped == "budget" and rt.accounting.show is not None:
        text = f"Budget reached: the run stopped with {summary.left:,} rows left; finished rows are kept. "
        text += "Raise the budget and run the same call again to finish."
        rt.accounting.show(Notice(text, "warning", "Budget"))
    elif outcome.stopped == "stop" and rt.accounting.show is not None:
        rt.accounting.show(Notice(kept_line("Stopped", summary), "info"))
    return out


def _summary(job: Job, engine: Engine, outcome: Outcome, elapsed: float) -> MapSummary:
    counts = engine.counts
    rows = Counter(job.keys)
    kept = sum(n for k, n in rows.items() if (a := engine.answers.get(k)) is not None and a.kept)
    repeated = sum(n - 1 for k, n in rows.items() if (a := engine.answers.get(k)) is not None and not a.kept)
    return MapSummary(
        engine.recorder.where.run_id, job.opts.model, len(job.keys), counts.done, counts.failed, counts.left,
        engine.requests, kept, repeated, counts.tokens_in, counts.tokens_out, counts.cache_hit_tokens,
        None if counts.unknown_cost else counts.cost, elapsed, outcome.stopped, engine.throttled,
        engine.endpoint.offline, job.notes, cut_off=engine.cut_off,
    )  # fmt: skip


def _attach(out: Any, summary: MapSummary) -> None:
    attrs = getattr(out, "attrs", None)
    if isinstance(attrs, dict):
        attrs["evo_magic"] = SummaryFields(summary)


__all__ = ["DEFAULT_CONCURRENCY", "MapInterrupted", "map_rows"]
