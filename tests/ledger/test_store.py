"""The SQLite ledger: exact costs, NULL for missing usage, restarts, migrations, two writer
processes at once, a writer killed mid-way, lock retries."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from evo_magic.ledger import store as ledger_module
from evo_magic.ledger.store import (
    MIGRATIONS,
    Ledger,
    LedgerError,
    TurnRecord,
)

from .helpers import AT, TURN1, TURN2, row, sample, totals

ROOT = Path(__file__).resolve().parents[1]


def test_round_trip_keeps_every_field_exactly(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.sqlite3") as ledger:
        original = row(
            usage=TURN1,
            cost=Decimal("0.0000410536"),
            cell=12,
            origin="cell",
            protocol="anthropic",
            ttft=0.25,
            elapsed=4.5,
            response_id="r-1",
            at=datetime(2026, 8, 17, 10, 0, tzinfo=timezone(timedelta(hours=8))),
        )
        row_id = ledger.record(original)
        (back,) = ledger.rows("analysis.ipynb")
    assert back.id == row_id == 1
    assert back.at == datetime(2026, 8, 17, 2, 0, tzinfo=timezone.utc)
    assert back.cost == Decimal("0.0000410536") and isinstance(back.cost, Decimal)
    assert back.usage == TURN1
    assert (back.cell, back.protocol, back.ttft, back.elapsed, back.response_id) == (12, "anthropic", 0.25, 4.5, "r-1")
    assert back.model == "deepseek-v4-flash"


def test_no_usage_is_stored_as_null_never_zero(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite3"
    with Ledger(path) as ledger:
        ledger.record(row(usage=None, outcome="interrupted"))
        (back,) = ledger.rows()
        (total,) = totals(ledger, by=())
    assert back.usage is None and back.cost is None and back.outcome == "interrupted"
    columns = "prompt_tokens, cache_hit_tokens, cache_miss_tokens, completion_tokens, reasoning_tokens, cost"
    with sqlite3.connect(path) as raw:
        assert raw.execute(f"SELECT {columns} FROM requests").fetchone() == (None,) * 6
    assert (total.requests, total.no_usage, total.unknown_cost, total.priced) == (1, 1, 1, 0)
    assert total.cost_text == "unknown"  # never $0.00


def test_a_started_row_becomes_the_settled_request(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.sqlite3") as ledger:
        started = ledger.record(row(usage=None, outcome="started", cell=3))
        other = ledger.record(row(usage=None, outcome="started", cell=4))  # e.g. a kernel that died
        (t,) = totals(ledger, by=())
        assert (t.requests, t.no_usage, t.unknown_cost) == (2, 2, 2)  # billed, tokens unknown
        paid = {"usage": TURN1, "cost": Decimal("0.0000410536")}
        assert ledger.record(row(cell=3, **paid), replace=started) == started
        rows = ledger.rows()
        assert [(r.id, r.outcome, r.usage) for r in rows] == [(started, "ok", TURN1), (other, "started", None)]
        assert ledger.record(row(cell=5, **paid), replace=999) not in (started, other)  # gone: appended
        (t,) = totals(ledger, by=())
        assert (t.requests, t.no_usage, t.unknown_cost, t.priced) == (3, 1, 1, 2)


def test_spend_counts_known_costs_and_reports_unknown(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.sqlite3") as ledger:
        sample(ledger)
        # 0.0002164624 + 0.3388; unknown: the interrupted request and the unpriced model (not the
        # request that failed before any token: nothing was billed)
        assert ledger.spend("analysis.ipynb") == (Decimal("0.3390164624"), 2)
        (t,) = totals(ledger, "analysis.ipynb", by=())  # the SQL and the Python rule agree
        assert (t.cost, t.unknown_cost) == ledger.spend("analysis.ipynb")
        assert ledger.spend("other.ipynb") == (Decimal("0.00014462"), 0)
        assert ledger.spend("nobody.ipynb") == (Decimal(0), 0)
        assert ledger.spend("analysis.ipynb", since=AT + timedelta(seconds=1)) == (Decimal(0), 0)
        assert ledger.notebooks() == ["other.ipynb", "analysis.ipynb"]
        by_outcome = {t.key: t.requests for t in totals(ledger, by=("outcome",))}
        assert by_outcome == {("error",): 1, ("interrupted",): 1, ("ok",): 6}
        with pytest.raises(ValueError, match="cannot group by"):
            totals(ledger, by=("cost; DROP TABLE requests",))


def test_decimal_sums_are_exact(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.sqlite3") as ledger:
        for _ in range(3):
            ledger.record(row(usage=TURN1, cost=Decimal("0.1")))
        assert ledger.spend("analysis.ipynb").cost == Decimal("0.3")  # floats would give 0.30000000000000004


def test_totals_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite3"
    first = Ledger(path)
    sample(first)
    before = (totals(first, "analysis.ipynb"), first.rows(), first.spend("analysis.ipynb"))
    first.close()
    second = Ledger(path)
    assert (totals(second, "analysis.ipynb"), second.rows(), second.spend("analysis.ipynb")) == before
    second.close()


def test_default_path_is_under_evo_magic_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVO_MAGIC_HOME", str(tmp_path / "home"))
    with Ledger() as ledger:
        ledger.record(row())
    assert ledger.path == tmp_path / "home" / "ledger.sqlite3" and ledger.path.exists()


def test_wal_mode_and_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite3"
    Ledger(path).close()
    Ledger(path).close()  # opening again runs nothing twice
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert raw.execute("SELECT version FROM schema_version").fetchall() == [(len(MIGRATIONS),)]


def old_ledger(path: Path, version: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ledger as the code of schema ``version`` left it: its tables, and one priced request
    written with only the columns of schema 1."""
    with monkeypatch.context() as m:
        m.setattr(ledger_module, "MIGRATIONS", MIGRATIONS[:version])
        Ledger(path).close()
    with sqlite3.connect(path) as raw:
        raw.execute(
            "INSERT INTO requests (at, notebook, session, origin, cell, model_requested, model_answered, protocol,"
            " prompt_tokens, cache_hit_tokens, cache_miss_tokens, completion_tokens, reasoning_tokens, cost, outcome)"
            " VALUES (?, 'analysis.ipynb', 'default', 'cell', 3, 'deepseek-v4-flash', 'deepseek-v4-flash', 'openai',"
            " 563, 512, 51, 116, 60, '0.0000410536', 'ok')",
            (AT.isoformat(),),
        )
        assert raw.execute("SELECT version FROM schema_version").fetchone() == (version,)
    raw.close()


def test_an_old_ledger_is_migrated_and_keeps_its_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "l.sqlite3"
    old_ledger(path, 1, monkeypatch)  # a version without turns
    with Ledger(path) as new:
        (kept,) = new.rows()
        assert (kept.cost, kept.usage, kept.cell, kept.offline) == (Decimal("0.0000410536"), TURN1, 3, False)
        new.record_turn(1, TurnRecord("q", "a"))
        assert new.turns("analysis.ipynb")[0][1] == TurnRecord("q", "a")
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT version FROM schema_version").fetchone() == (len(MIGRATIONS),)
    raw.close()


def test_a_ledger_from_before_the_emulator_flag_keeps_its_spend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Schema 3 to 4: every request recorded before is billed traffic (offline = 0)."""
    path = tmp_path / "l.sqlite3"
    old_ledger(path, 3, monkeypatch)
    with Ledger(path) as new:
        assert [r.offline for r in new.rows()] == [False]
        assert new.spend("analysis.ipynb") == (Decimal("0.0000410536"), 0)
        new.record(row(usage=TURN2, cost=Decimal("0.00014462"), offline=True))
        assert new.spend("analysis.ipynb") == (Decimal("0.0000410536"), 0)
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT offline FROM requests ORDER BY id").fetchall() == [(0,), (1,)]
        assert raw.execute("SELECT version FROM schema_version").fetchone() == (len(MIGRATIONS),) and len(MIGRATIONS) >= 4
    raw.close()


def test_emulator_requests_are_kept_but_never_spent(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.sqlite3") as ledger:
        sample(ledger)
        billed = ledger.spend("analysis.ipynb")
        ledger.record(row(usage=TURN2, cost=Decimal("0.00014462"), offline=True, cell=9))
        ledger.record(row(outcome="interrupted", offline=True, cell=10))  # unknown, but nobody bills it
        ledger.record(row(model_requested="mystery", model_answered=None, usage=TURN1, offline=True))
        assert ledger.spend("analysis.ipynb") == billed == (Decimal("0.3390164624"), 2)
        assert ledger.spend("analysis.ipynb", since=AT) == billed
        rows = ledger.rows("analysis.ipynb")
        assert [r.offline for r in rows] == [False] * 7 + [True] * 3
        assert rows[7].cost == Decimal("0.00014462") and rows[7].usage == TURN2  # what DeepSeek would charge
        (t,) = totals(ledger, "analysis.ipynb", by=())  # the SQL and the Python rule still agree
        assert (t.cost, t.unknown_cost) == billed
        assert (t.requests, t.emulator, t.emulator_priced, t.emulator_unknown) == (10, 3, 1, 2)
        assert t.emulator_cost == Decimal("0.00014462")
        assert t.cost_text == "$0.339 + 2 unknown; $0.0001 + 2 unknown if billed (emulator)"


def test_a_newer_ledger_still_opens(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite3"
    Ledger(path).close()
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE schema_version SET version = 99")
    with Ledger(path) as ledger:
        ledger.record(row())
        assert len(ledger.rows()) == 1


def test_turns_for_a_later_session_restore(tmp_path: Path) -> None:
    calls = ({"index": 0, "id": "call_0", "name": "load", "arguments": '{"path": "données.csv"}'},)
    with Ledger(tmp_path / "l.sqlite3") as ledger:
        first = ledger.record(row(usage=TURN1), TurnRecord("Load it", "", "I should call load", calls))
        ledger.record(row(outcome="interrupted"))  # no turn
        second = ledger.record(row(session="other", usage=TURN2))
        ledger.record_turn(second, TurnRecord("Summarise", "Done.", ""))
        turns = ledger.turns("analysis.ipynb")
        assert [(r.id, t.prompt) for r, t in turns] == [(first, "Load it"), (second, "Summarise")]
        assert turns[0][1].tool_calls == calls
        assert [t.prompt for _, t in ledger.turns("analysis.ipynb", session="other")] == ["Summarise"]


# --- several processes ---------------------------------------------------------------------

WRITER = """
import itertools, sys, time
from decimal import Decimal
from pathlib import Path
from evo_magic.ledger.store import Ledger, LedgerRow
from evo_magic.core.usage import Usage

path, name, count, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
ledger = Ledger(path)
sys.stdout.write("ready\\n"); sys.stdout.flush()
while not go.exists():
    time.sleep(0.002)
for i in (range(count) if count >= 0 else itertools.count()):
    ledger.record(LedgerRow(notebook="nb", session=name, model_requested="deepseek-v4-flash",
                            usage=Usage(10, 0, 10, 5), cost=Decimal("0.000001"), cell=i))
    if count < 0:
        sys.stdout.write(f"{i + 1}\\n"); sys.stdout.flush()
ledger.close()
"""


def writer(path: Path, name: str, count: int, go: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    args = [sys.executable, "-c", WRITER, str(path), name, str(count), str(go)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n", proc.communicate()
    return proc


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    path, go = tmp_path / "l.sqlite3", tmp_path / "go"
    procs = [writer(path, name, 300, go) for name in ("kernel-a", "kernel-b")]
    go.touch()  # both start together
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0 and err == "", err
    with Ledger(path) as ledger:
        counts = {t.key: t.requests for t in totals(ledger, "nb", by=("session",))}
        assert counts == {("kernel-a",): 300, ("kernel-b",): 300}
        assert ledger.spend("nb") == (Decimal("0.000600"), 0)
        assert sorted(r.cell for r in ledger.rows(session="kernel-a")) == list(range(300))


def test_a_killed_writer_leaves_the_ledger_intact(tmp_path: Path) -> None:
    path, go = tmp_path / "l.sqlite3", tmp_path / "go"
    go.touch()
    proc = writer(path, "doomed", -1, go)
    assert proc.stdout is not None
    committed = 0
    while committed < 200:
        line = proc.stdout.readline()
        assert line, proc.communicate()
        committed = int(line)
    proc.kill()  # SIGKILL on POSIX: no cleanup, possibly mid-transaction
    proc.communicate(timeout=30)
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with Ledger(path) as ledger:
        rows = ledger.rows("nb")
        assert len(rows) >= committed  # every commit it reported is there
        assert [r.cell for r in rows] == list(range(len(rows)))
        ledger.record(row(notebook="nb"))  # and it takes new rows


def test_a_locked_ledger_is_waited_for_then_written(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite3"
    ledger = Ledger(path, timeout=0.05)
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another kernel holds the write lock for 0.3 s
    release = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    release.start()
    started = time.monotonic()
    assert ledger.record(row()) == 1
    assert time.monotonic() - started >= 0.25
    release.join()
    other.close()
    ledger.close()


def test_a_ledger_locked_too_long_raises_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger_module, "RETRY_BACKOFF", 0.001)
    path = tmp_path / "l.sqlite3"
    ledger = Ledger(path, timeout=0.01)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    with pytest.raises(LedgerError, match="locked"):
        ledger.record(row())
    other.execute("ROLLBACK")
    other.close()
    assert ledger.record(row()) == 1  # fine once the lock is gone
    ledger.close()


def test_an_unusable_path_is_a_ledger_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(LedgerError, match="cannot open the ledger"):
        Ledger(tmp_path / "file" / "l.sqlite3")


def test_ledger_migrates_schema_2_to_3(tmp_path: Path) -> None:
    import sqlite3

    from evo_magic.ledger import store as ledger_module

    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for statements in ledger_module.MIGRATIONS[:2]:
        for statement in statements:
            conn.execute(statement)
    conn.execute("INSERT INTO schema_version VALUES (2)")
    conn.execute(
        "INSERT INTO requests (at, notebook, session, origin, model_requested, protocol, outcome) "
        "VALUES ('2026-11-01T10:00:00+00:00', 'nb', 'default', 'cell', 'deepseek-chat', 'openai', 'ok')"
    )
    conn.execute("INSERT INTO turns VALUES (1, 'q', 'a', '', '[]')")
    conn.commit()
    conn.close()
    with Ledger(path) as ledger:
        [(row, record)] = ledger.turns("nb")
        assert (record.prompt, record.messages, record.cell_id) == ("q", None, None)
        assert ledger.drop_turns([row.id or 0]) == 1 and ledger.turns("nb") == []


def test_a_map_rows_key_and_run_are_kept_and_many_rows_go_in_one_write(tmp_path) -> None:
    from evo_magic.ledger.store import Ledger, LedgerRow

    with Ledger(tmp_path / "l.sqlite3") as ledger:
        started = ledger.record(LedgerRow("nb", "default", "deepseek-v4-flash", outcome="started", origin="map",
                                          request_key="k0", run_id="r1"))
        ids = ledger.record_many([
            (LedgerRow("nb", "default", "deepseek-v4-flash", origin="map", request_key="k0", run_id="r1"), started),
            (LedgerRow("nb", "default", "deepseek-v4-flash", origin="map", request_key="k1", run_id="r1"), None),
        ])
        rows = ledger.rows("nb")
    assert ids[0] == started and len(rows) == 2
    assert [(r.request_key, r.run_id, r.origin, r.outcome) for r in rows] == [("k0", "r1", "map", "ok"), ("k1", "r1", "map", "ok")]


@pytest.mark.parametrize("where", ["after BEGIN", "before ROLLBACK"])
def test_a_ctrl_c_that_leaves_a_transaction_open_does_not_break_the_next_write(tmp_path: Path, where: str) -> None:
    """Ctrl-C lands between two bytecodes: just after ``BEGIN IMMEDIATE`` (before the rollback
    guard) or in the handler before its ``ROLLBACK``; the transaction stays open with nothing
    written. The next write said "the ledger failed: cannot start a transaction within a
    transaction" (a map run's Ctrl-C ended in LedgerError, not MapInterrupted)."""
    ledger = Ledger(tmp_path / "l.sqlite3")
    ledger.record(row())
    conn = ledger._open()
    real_execute = conn.execute

    class Interrupting:
        def __getattr__(self, name: str) -> object:
            return getattr(conn, name)

        def execute(self, sql: str, *args: object) -> object:
            if (sql, where) in {("BEGIN IMMEDIATE", "after BEGIN"), ("ROLLBACK", "before ROLLBACK")}:
                if sql == "BEGIN IMMEDIATE":
                    real_execute(sql)
                raise KeyboardInterrupt
            return real_execute(sql, *args)

    def delete_then_interrupted(c: sqlite3.Connection) -> None:
        c.execute("DELETE FROM requests")
        raise KeyboardInterrupt  # the first Ctrl-C; the second lands before the ROLLBACK

    ledger._conn = Interrupting()  # type: ignore[assignment]
    with pytest.raises(KeyboardInterrupt):
        ledger.write(delete_then_interrupted if where == "before ROLLBACK" else lambda c: None)
    ledger._conn = conn
    assert len(ledger.rows(row().notebook)) == 1  # a read does not see what was never committed
    ledger.record(row(cell=7))
    assert not conn.in_transaction and len(ledger.rows(row().notebook)) == 2  # the delete never happened
