"""The SQLite ledger: exact costs, NULL for missing usage, restarts, migrations, two writer
processes at once, a writer killed mid-way, lock retries."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from evo_magic.core.events import Finished, ReasoningDelta, ResponseStarted, TextDelta, ToolCallDelta, UsageReported
from evo_magic.core.snapshot import TurnSnapshot
from evo_magic.core.usage import Usage
from evo_magic.errors import RateLimitError
from evo_magic.ledger import store as ledger_module
from evo_magic.ledger.records import row_from_reply, turn_from_reply
from evo_magic.ledger.report import UsageRecord
from evo_magic.ledger.store import (
    MIGRATIONS,
    Ledger,
    LedgerError,
    LedgerRow,
    TurnRecord,
)
from evo_magic.ledger.totals import Totals, group_totals, totals_table
from evo_magic.sessions.reply import Reply, Timing

ROOT = Path(__file__).resolve().parents[1]
AT = datetime(2026, 6, 10, 9, 4, 13, tzinfo=timezone.utc)
# Usage of the recorded V4 tool loop (tests/fixtures/recorded/v4_thinking_tool_loop_*), costs at
# v4-flash 0.0028 / 0.14 / 0.28 worked out in test_pricing.
TURN1 = Usage(563, 512, 51, 116, 60)  # 0.0000410536
TURN2 = Usage(875, 0, 875, 79, 26)  # 0.00014462
TURN3 = Usage(976, 896, 80, 61, 25)  # 0.0000307888
BIG = Usage(300_000, 200_000, 100_000, 50_000, 20_000)  # v4-pro peak: 0.3388


def row(**kw: object) -> LedgerRow:
    base: dict[str, object] = {
        "notebook": "analysis.ipynb",
        "session": "default",
        "model_requested": "deepseek-v4-flash",
        "model_answered": "deepseek-v4-flash",
        "at": AT,
    }
    return LedgerRow(**{**base, **kw})  # type: ignore[arg-type]


def totals(ledger: Ledger, notebook: str | None = None, by: tuple[str, ...] = ("session", "model")) -> list[Totals]:
    """What the usage view sums: the ledger's rows, grouped in Python."""
    return group_totals([UsageRecord.from_ledger(r) for r in ledger.rows(notebook)], by)


def sample(ledger: Ledger) -> None:
    ledger.record(row(model_requested="deepseek-chat", usage=TURN1, cost=Decimal("0.0000410536"), cell=3))
    ledger.record(row(usage=TURN2, cost=Decimal("0.00014462"), cell=3))
    ledger.record(row(usage=TURN3, cost=Decimal("0.0000307888"), cell=3))
    ledger.record(row(outcome="interrupted", cell=4, ttft=0.8, elapsed=3.0))  # no usage reported
    pro = {"session": "review", "model_requested": "deepseek-v4-pro", "model_answered": "deepseek-v4-pro"}
    ledger.record(row(**pro, usage=BIG, cost=Decimal("0.3388"), origin="panel"))
    ledger.record(row(**pro, outcome="error", error="RateLimitError"))  # failed before any token
    ledger.record(row(session="review", model_requested="mystery", model_answered=None, usage=TURN1))
    ledger.record(row(notebook="other.ipynb", usage=TURN2, cost=Decimal("0.00014462")))


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


def test_totals_by_session_and_model(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.sqlite3") as ledger:
        sample(ledger)
        sums = totals(ledger, "analysis.ipynb")
    flash = sums[0]
    assert flash.key == ("default", "deepseek-v4-flash")  # deepseek-chat answered by v4-flash
    # 0.0000410536 + 0.00014462 + 0.0000307888 = 0.0002164624, exactly
    assert flash.cost == Decimal("0.0002164624")
    assert (flash.requests, flash.no_usage, flash.unknown_cost) == (4, 1, 1)
    assert (flash.prompt_tokens, flash.cache_hit_tokens, flash.completion_tokens) == (2414, 1408, 256)
    assert flash.reasoning_tokens == 111
    text = repr(totals_table(sums, title="Usage of analysis.ipynb"))
    assert text == (
        "Usage of analysis.ipynb\n"
        "session  model              requests             input tokens          output tokens              cost\n"
        "-------  -----------------  -------------------  --------------------  -------------------------  -------------------\n"
        "default  deepseek-v4-flash  4 (1 without usage)  2,414 (58% cached)    256 (111 reasoning)        $0.0002 + 1 unknown\n"
        "review   deepseek-v4-pro    2 (1 without usage)  300,000 (67% cached)  50,000 (20,000 reasoning)  $0.3388\n"
        "review   mystery            1                    563 (91% cached)      116 (60 reasoning)         unknown"
    )


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
        assert raw.execute("SELECT version FROM schema_version").fetchone() == (4,) == (len(MIGRATIONS),)
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


def test_rows_from_a_reply() -> None:
    snap = TurnSnapshot()
    for event in (
        ResponseStarted("r-9", "deepseek-v4-flash"),
        ReasoningDelta("thinking"),
        TextDelta("Hello"),
        ToolCallDelta(0, "call_0", "f", '{"x": 1}'),
        UsageReported(TURN1),
        Finished("stop"),
    ):
        snap.apply(event)
    reply = Reply(snap, "deepseek-chat", "default", Timing(10.0, first_token=10.5, end=12.0), "ok", "openai", cell=7)
    made = row_from_reply(reply, notebook="n.ipynb", cost=Decimal("0.0000410536"), at=AT)
    assert made == LedgerRow(
        notebook="n.ipynb",
        session="default",
        model_requested="deepseek-chat",
        model_answered="deepseek-v4-flash",
        usage=TURN1,
        cost=Decimal("0.0000410536"),
        at=AT,
        cell=7,
        ttft=0.5,
        elapsed=2.0,
        response_id="r-9",
    )
    reply.offline = True  # answered by the bundled emulator
    assert row_from_reply(reply, notebook="n.ipynb", cost=Decimal("0.0000410536"), at=AT) == replace(made, offline=True)
    assert turn_from_reply(reply, "Hi") == TurnRecord(
        "Hi", "Hello", "thinking", ({"index": 0, "id": "call_0", "name": "f", "arguments": '{"x": 1}'},)
    )
    failed = Reply(TurnSnapshot(), "deepseek-v4-pro", "s", Timing(0.0, end=0.1), "error", cell="In[3]")
    failed.error = RateLimitError("slow down")
    made = row_from_reply(failed, notebook="n", cost=None, at=AT, origin="panel")
    assert (made.usage, made.error, made.cell, made.model_answered, made.origin) == (
        None,
        "RateLimitError",
        None,
        None,
        "panel",
    )


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


def test_every_request_is_started_then_settled_even_when_a_bug_breaks_it(
    emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import evo_magic
    import evo_magic.ledger.accounting as accounting
    from evo_magic.sessions.registry import registry

    from .conftest import use_emulator

    use_emulator(monkeypatch, emulator.url, "/work/started.ipynb")
    accounting._current = None
    acc = accounting.install(None, None)
    outcomes: list[list[str]] = []
    registry().listeners.append(
        lambda kind, s, reply: outcomes.append([r.outcome for r in acc.ledger.rows(acc.notebook)])
        if kind in ("start", "request")
        else None
    )
    try:
        evo_magic.session().ask("What is 2+2?")
        assert outcomes == [["started"], ["ok"]]  # one row: written before the request, then settled

        class Broken:
            def update(self, snap: Any) -> None:
                raise RuntimeError("a bug in a view")

            def finish(self, snap: Any, footer: Any) -> None: ...

        with pytest.raises(RuntimeError, match="a bug in a view"):
            evo_magic.session().ask("What is 2+2?", view=Broken())
        rows = acc.ledger.rows(acc.notebook)
        assert [r.outcome for r in rows] == ["ok", "error"] and rows[-1].usage is None
    finally:
        acc.close()
        accounting._current = None


def test_an_emulator_answer_is_recorded_as_such_and_billed_to_nobody(
    emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import evo_magic
    import evo_magic.ledger.accounting as accounting
    from evo_magic.display.render import footer_text
    from evo_magic.ledger.pricing import billed_model, cost, format_money, load_table
    from evo_magic.ledger.records import restored_turn
    from evo_magic.sessions.registry import registry

    from .conftest import use_emulator, use_offline

    use_offline(monkeypatch, emulator, "/work/offline.ipynb")  # %deepseek offline, no key
    accounting._current = None
    acc = accounting.install(None, None)
    started: list[LedgerRow] = []
    registry().listeners.append(lambda kind, s, reply: started.extend(acc.ledger.rows()) if kind == "start" else None)
    try:
        reply = evo_magic.session().ask("What is 2+2?")
        assert reply.offline and reply.priced and reply.cost is not None and reply.cost > 0
        assert [r.offline for r in started] == [True]  # from the started row on
        (recorded,) = acc.ledger.rows(acc.notebook)
        assert recorded.offline and recorded.usage == reply.usage and recorded.outcome == "ok"
        # priced exactly as DeepSeek would bill it, for the footer and the view
        assert recorded.cost == reply.cost == cost(reply.usage, billed_model(reply.requested_model, reply.model),
                                                   recorded.at, load_table())
        assert acc.ledger.spend(acc.notebook) == (Decimal(0), 0)
        shown = f"{format_money(reply.cost)} if billed (emulator)"
        assert footer_text(reply.footer).endswith(f" · {shown}") and shown in reply._repr_html_()
        ((kept, record),) = acc.ledger.turns(acc.notebook)
        assert footer_text(restored_turn(kept, record).reply.footer).endswith(shown)  # after a restore too

        use_emulator(monkeypatch, emulator.url, "/work/offline.ipynb")  # back online: billed again
        paid = evo_magic.session("billed").ask("And 3+3?")  # (the emulator keeps reasoning per key)
        assert not paid.offline and paid.cost is not None
        assert footer_text(paid.footer).endswith(f" · {format_money(paid.cost)}")
        assert [r.offline for r in acc.ledger.rows(acc.notebook)] == [True, False]
        assert acc.ledger.spend(acc.notebook) == (paid.cost, 0)
    finally:
        acc.close()
        accounting._current = None
