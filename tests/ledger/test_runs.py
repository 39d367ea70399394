"""evo_magic.map runs in the ledger: the runs table (written when a run starts, completed when
it ends), each run's totals summed from its requests, and the runs section of the usage view."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from evo_magic.core.usage import Usage
from evo_magic.ledger.report import UsageRecord, UsageRows
from evo_magic.ledger.runs import RunRecord, Runs, run_totals, runs_table
from evo_magic.ledger.store import Ledger, LedgerRow

AT = datetime(2026, 6, 10, 9, 0, tzinfo=timezone.utc)
NB = "/work/tickets.ipynb"


def request(run: str | None, outcome: str = "ok", cost: str | None = "0.0001", minutes: int = 0) -> LedgerRow:
    usage = None if outcome == "error" else Usage(100, 64, 36, 20)
    return LedgerRow(notebook=NB, session="default", model_requested="deepseek-v4-flash", outcome=outcome,  # type: ignore[arg-type]
                     usage=usage, cost=None if cost is None else Decimal(cost), at=AT + timedelta(minutes=minutes),
                     origin="map" if run else "cell", run_id=run, request_key="k" if run else None)  # fmt: skip


def test_a_run_is_written_when_it_starts_and_completed_when_it_ends(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.sqlite3") as ledger:
        runs = Runs(ledger)
        runs.begin(RunRecord("r1", NB, "default", "deepseek-v4-flash", AT, 1_000))
        runs.begin(RunRecord("r2", "/work/other.ipynb", "default", "deepseek-v4-flash", AT, None))
        (started,) = runs.of(NB)
        assert (started.rows, started.ended, started.kept) == (1_000, None, 0)
        runs.end("r1", kept=400, failed=3, left=0, stopped=None)
        (ended,) = runs.of(NB)
        assert (ended.kept, ended.failed, ended.left, ended.stopped) == (400, 3, 0, None) and ended.ended is not None
        assert [r.id for r in runs.of()] == ["r1", "r2"]


def test_each_run_sums_its_requests_and_says_how_it_ended(tmp_path: Path) -> None:
    rows = [request("r1"), request("r1"), request("r1", "error", None), request(None), request("r2", cost=None),
            request("r3", minutes=5)]  # fmt: skip
    records = [UsageRecord.from_ledger(r) for r in rows]
    runs = [RunRecord("r1", NB, "default", "m", AT, 10, kept=7, failed=1, left=0, ended=AT),
            RunRecord("r3", NB, "default", "m", AT + timedelta(minutes=5), 50, left=30, stopped="stop",
                      ended=AT + timedelta(minutes=6)),
            RunRecord("r4", NB, "default", "m", AT + timedelta(minutes=9), 5, kept=5, ended=AT)]  # fmt: skip
    totals = run_totals(records, runs)
    assert [t.id for t in totals] == ["r1", "r2", "r3", "r4"]
    r1, r2, r3, r4 = totals
    assert r3.requests == 1 and r3.run is not None and r3.run.stopped == "stop"
    assert (r1.requests, r1.failed_requests, r1.tokens_in, r1.tokens_out, r1.cost) == (3, 1, 200, 40, Decimal("0.0002"))
    assert r2.run is None and r2.unknown == 1 and r4.requests == 0  # r4: every row answered earlier
    lines = repr(runs_table(totals)).splitlines()
    assert lines[0] == "Map runs" and lines[1].split()[:2] == ["run", "started"]
    assert lines[3].split() == ["r1", "2026-06-10", "09:00", "10", "3", "7", "1", "200", "40", "$0.0002", "done"]
    assert lines[4].split()[3:6] == ["?", "1", "?"] and lines[4].endswith("$0.00 + 1 unknown")  # no run row: kept?
    assert lines[5].endswith("stop (30 left)") and lines[6].split()[3:5] == ["5", "0"]


def test_a_run_whose_kernel_died_did_not_finish() -> None:
    run = RunRecord("r9", NB, "default", "m", AT, 2_000)
    line = repr(runs_table(run_totals([UsageRecord.from_ledger(request("r9", "started", None))], [run])))
    assert line.splitlines()[-1].endswith("did not finish")


def test_the_usage_view_shows_the_runs_after_the_totals_and_exports_carry_the_run(tmp_path: Path) -> None:
    records = [UsageRecord.from_ledger(request("r1")), UsageRecord.from_ledger(request(None))]
    rows = UsageRows(records, runs=[RunRecord("r1", NB, "default", "m", AT, 4, kept=3, ended=AT)])
    text = repr(rows)
    assert text.index("Total:") < text.index("Map runs") and "r1" in text
    assert "Map runs" in rows._repr_html_() and "Map runs" in repr(rows[:1])
    df = rows.to_pandas()
    assert [r.run_id for r in rows] == ["r1", None] and df.run_id.iloc[0] == "r1" and df.run_id.isna().iloc[1]
    assert rows.to_csv(tmp_path / "u.csv").read_text().splitlines()[1].endswith(",k,r1,")  # request_key, run_id, saved
    assert "Map runs" not in repr(UsageRows([replace(records[1])]))
