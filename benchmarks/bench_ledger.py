"""Ledger and usage-view benchmark: what accounting adds to a request, and how the usage view
scales with a notebook's history. In process, on a temporary EVO_MAGIC_HOME.

Run:  python benchmarks/bench_ledger.py [--quick]

Prints, side by side with a baseline measured in the same run:

1. accounting per request (the "start" row, pricing, the settled row replacing it, through
   :class:`evo_magic.ledger.accounting.Accounting` exactly as a session drives it) vs the floor: one
   bare ``sqlite3`` INSERT + COMMIT into a WAL file with the same pragmas; and as a share of the
   emulator's time to first token measured in bench_stream (~0.4 s);
2. ``%deepseek usage`` for a notebook of N requests (read the ledger, group, chart, HTML and
   text) vs only reading the N rows back (``Ledger.rows``), for N = 1,000 and 10,000;
3. peak memory of that view for 10,000 requests (tracemalloc).

Targets (issue #4): accounting well under 1 % of a request's time to first token; the usage
view of 10,000 requests interactive (< 1 s).
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HOME = tempfile.mkdtemp(prefix="evo-bench-ledger-")
os.environ["EVO_MAGIC_HOME"] = HOME
os.environ["JPY_SESSION_NAME"] = "/work/bench.ipynb"

from evo_magic.core.events import Finished, ResponseStarted, UsageReported  # noqa: E402
from evo_magic.core.snapshot import TurnSnapshot  # noqa: E402
from evo_magic.core.usage import Usage  # noqa: E402
from evo_magic.ledger.accounting import Accounting  # noqa: E402
from evo_magic.ledger.store import Ledger, LedgerRow  # noqa: E402
from evo_magic.sessions.reply import Reply, Timing  # noqa: E402

TTFT = 0.406  # seconds: the emulator's median time to first token in bench_stream (cell path)


class _Session:
    name = "default"


def _reply(cell: int) -> Reply:
    snap = TurnSnapshot()
    for event in (ResponseStarted(f"r-{cell}", "deepseek-v4-flash"), UsageReported(Usage(563, 512, 51, 116, 60))):
        snap.apply(event)
    snap.apply(Finished("stop"))
    return Reply(snap, "deepseek-v4-flash", "default", Timing(time.monotonic() - 1.2, first_token=None), cell=cell)


def accounting_per_request(n: int) -> tuple[float, float]:
    acc = Accounting()
    session = _Session()
    times = []
    for i in range(n):
        reply = _reply(i)
        started = time.perf_counter()
        acc.on_event("start", session, reply)
        reply.finish("ok", None)
        acc.on_event("request", session, reply)
        times.append(time.perf_counter() - started)
    acc.close()

    path = Path(HOME) / "floor.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode = WAL", "synchronous = NORMAL"):
        conn.execute(f"PRAGMA {pragma}")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, at TEXT, notebook TEXT, tokens INTEGER, cost TEXT)")
    floor = []
    for i in range(n):
        started = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (at, notebook, tokens, cost) VALUES (?, ?, ?, ?)", ("now", "nb", i, "0.0001"))
        conn.execute("COMMIT")
        floor.append(time.perf_counter() - started)
    conn.close()
    return statistics.median(times), statistics.median(floor)


def fill(ledger: Ledger, notebook: str, n: int) -> None:
    at = datetime(2026, 11, 1, tzinfo=timezone.utc)
    models = ("deepseek-v4-flash", "deepseek-v4-pro", "deepseek-chat")
    for i in range(n):
        usage = None if i % 50 == 0 else Usage(1000 + i % 700, 600, 400 + i % 700, 200 + i % 90, 40)
        ledger.record(
            LedgerRow(
                notebook=notebook,
                session=("default", "review", "eda")[i % 3],
                model_requested=models[i % 3],
                model_answered=models[i % 3],
                usage=usage,
                cost=None if usage is None else Decimal(usage.prompt_tokens * 14 + usage.completion_tokens * 28) / 10**8,
                outcome="interrupted" if usage is None else "ok",
                at=at + timedelta(minutes=i),
                cell=i,
            )
        )


def usage_view(notebook: str) -> tuple[float, float, int]:
    acc = Accounting()
    acc._notebook = notebook
    started = time.perf_counter()
    rows = acc.ledger.rows(notebook)
    read = time.perf_counter() - started
    started = time.perf_counter()
    view = acc.usage()
    html, text = view._repr_html_(), repr(view)
    full = time.perf_counter() - started + read
    acc.close()
    assert len(rows) and "<svg" in html and "Total:" in text
    return full, read, len(html)


def main() -> None:
    quick = "--quick" in sys.argv
    n_requests = 200 if quick else 1000
    sizes = (1000,) if quick else (1000, 10_000)
    print(f"evo_magic ledger benchmark (EVO_MAGIC_HOME={HOME})\n")

    ours, floor = accounting_per_request(n_requests)
    print(f"1. accounting per request (median of {n_requests})")
    print(f"   start row + pricing + settled row : {ours * 1000:7.3f} ms  ({ours / TTFT:.2%} of a {TTFT:.3f} s TTFT)")
    print(f"   baseline: one bare INSERT+COMMIT  : {floor * 1000:7.3f} ms  (ratio {ours / floor:.1f}x)\n")

    print("2. %deepseek usage (read + group + chart + HTML + text) vs reading the rows only")
    with Ledger() as ledger:
        for n in sizes:
            name = f"/work/view-{n}.ipynb"
            fill(ledger, name, n)
            full, read, html_bytes = usage_view(name)
            print(f"   {n:>6,} requests: view {full * 1000:8.1f} ms   baseline rows() {read * 1000:8.1f} ms   HTML {html_bytes:,} B")

    name = f"/work/view-{sizes[-1]}.ipynb"
    tracemalloc.start()
    usage_view(name)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    tracemalloc.start()
    with Ledger() as ledger:
        ledger.rows(name)
    _, base = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"\n3. peak memory of the view, {sizes[-1]:,} requests: {peak / 2**20:.1f} MiB   baseline rows(): {base / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
