"""The crash test of evo_magic.map: a kernel answering 2,000 rows is SIGKILLed at about half,
a new kernel runs the same call again. Against the emulator (its request log counts what was
sent): only the rows without a stored answer are asked again, the output is the one an
uninterrupted run gives, every request is one ledger row, and the dry-run estimate made before
the run is within 15 % of what the rows cost."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from evo_magic.core.replay import request_key
from evo_magic.ledger.answers import Answers
from evo_magic.ledger.store import Ledger

from .harness import Kernel

pytestmark = pytest.mark.kernel
pd = pytest.importorskip("pandas")

ROWS, PILOT, FAILURES, CONCURRENCY = 2_000, 20, 5, 8
KEY = "sk-crash-test-8080"
SETUP = f"""
import json, evo_magic, pandas as pd
TOPICS = ["the export to CSV fails", "I was charged twice", "the app logs me out", "a feature request: dark mode",
          "the invoice shows the wrong address", "sync stopped after the update", "how do I delete my account?"]
df = pd.DataFrame({{"ticket": [f"#{{i}} from customer {{i * 37 % 1000}}: {{TOPICS[i % 7]}} (plan {{i % 3}})"
                              for i in range({ROWS})]}})
T = ("You triage the support tickets of a software company. Read the ticket and answer with its team "
     "(billing, accounts, sync, export, product), its urgency (low, normal, high) and one short sentence "
     "the agent can send first. Be brief and never promise refunds. Ticket: {{ticket}}")
OPTS = dict(model="deepseek-v4-flash", thinking=False, max_tokens=300, concurrency={CONCURRENCY}, progress="none")
"""
RUN = "out = evo_magic.map(df, T, **OPTS)"


@pytest.fixture(scope="module")
def emu() -> Iterator[Any]:
    from evo_magic.emulator import Emulator

    with Emulator(latency=0.02) as e:  # 8 in flight: ~400 rows/s, so 2,000 rows last a few seconds
        yield e


def kernel(emu: Any, home: Path) -> Kernel:
    k = Kernel({"EVOLINK_API_KEY": KEY, "EVOLINK_BASE_URL": emu.url, "EVO_MAGIC_HOME": str(home),
                "JPY_SESSION_NAME": "/work/triage.ipynb"})  # fmt: skip
    assert k.execute("%load_ext evo_magic").ok
    ex = k.execute(SETUP)
    assert ex.ok, ex.error_text
    return k


def printed(k: Kernel, code: str) -> Any:
    ex = k.execute(code + "\nprint('JSON', json.dumps(_r, default=str))", timeout=120)
    assert ex.ok, ex.error_text
    return json.loads(next(line for line in ex.text().splitlines() if line.startswith("JSON "))[5:])


def keys_of(bodies: list[dict[str, Any]]) -> list[str]:
    return [request_key("openai", "/v1/chat/completions", b) for b in bodies]


def kill_at_half(k: Kernel, emu: Any, sent: int) -> dict[str, int]:
    """Start the run and SIGKILL the kernel once the emulator got about half of its requests."""
    k.kc.execute(RUN)
    deadline = time.monotonic() + 60
    while len(emu.requests) - sent < ROWS // 2:
        assert time.monotonic() < deadline, "the run did not get to half in a minute"
        time.sleep(0.002)
    in_flight = emu.state.in_flight
    k.kill()
    received = len(emu.requests) - sent
    while emu.state.in_flight:  # the answers the dead kernel will never read
        time.sleep(0.01)
    return {"received_at_kill": received, "in_flight_at_kill": in_flight}


def saved(k: Kernel, path: Path) -> Any:
    printed(k, f"{RUN}\nout.to_pickle({str(path)!r})\n_r = out.attrs['evo_magic'].as_dict()")
    return pd.read_pickle(path)


def test_sigkill_at_half_then_the_same_call_resumes_to_the_uninterrupted_output(
    emu: Any, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    first = kernel(emu, home)
    try:
        printed(first, "_r = len(evo_magic.map([{'ticket': 'warm-up'}], T, **OPTS))")  # the prefix, cached
        start = len(emu.requests)
        plan = printed(first, f"p = evo_magic.map(df, T, dry_run=True, pilot={PILOT}, **OPTS)\n"
                              "_r = dict(cost=p.cost_expected, low=p.cost_range[0], high=p.cost_range[1], "
                              "rows=p.rows, kept=p.kept, distinct=p.distinct)")  # fmt: skip
        assert (plan["rows"], plan["kept"], plan["distinct"]) == (ROWS, PILOT, ROWS - PILOT)
        for _ in range(FAILURES):
            emu.fail_next("context_length")  # the run's first requests: a 400 each, that row's error
        killed = kill_at_half(first, emu, len(emu.requests))
    finally:
        first.close()
    ledger = Ledger(home / "ledger.sqlite3")
    by_first = emu.requests[start:]
    answered_before = set(Answers(ledger).get_many(keys_of(by_first)))
    rows_before = [r for r in ledger.rows() if r.origin == "map"]

    second = kernel(emu, home)
    try:
        resumed_from = len(emu.requests)
        resumed = saved(second, tmp_path / "resumed.pkl")
    finally:
        second.close()
    by_second = emu.requests[resumed_from:]
    reference_home = kernel(emu, tmp_path / "reference")
    try:
        reference_from = len(emu.requests)
        reference = saved(reference_home, tmp_path / "reference.pkl")
    finally:
        reference_home.close()
    every_row = keys_of(emu.requests[reference_from:])  # an uninterrupted run asks each row once
    assert len(set(every_row)) == len(every_row) == ROWS

    # requests: each row once, plus the injected failures, plus what the kill left in flight
    sent = len(by_first) + len(by_second)
    lost = [k for k in keys_of(by_first) if k not in answered_before]
    print(f"\ncrash test: {ROWS:,} rows; {sent:,} requests ({len(by_first):,} before the kill, {len(by_second):,} "
          f"after); {FAILURES} injected failures; {killed['in_flight_at_kill']} in flight at the kill; "
          f"{len(lost) - FAILURES} sent before the kill without a kept answer")  # fmt: skip
    assert Counter(keys_of(by_second)) == Counter(k for k in every_row if k not in answered_before)
    # lost: the requests in flight at the kill, and the answers in the kernel's hand (a group
    # being recorded); never a tenth of a second of answers waiting to be written
    assert len(lost) - FAILURES <= CONCURRENCY + killed["in_flight_at_kill"]
    assert sent == ROWS + FAILURES + (len(lost) - FAILURES)

    # the output: the uninterrupted one, with `cached` for the rows answered before the kill
    compared = ["ticket", "answer", "error", "cost", "tokens_in", "tokens_out"]
    assert resumed[compared].equals(reference[compared]) and list(resumed.index) == list(reference.index)
    assert resumed.error.isna().all() and resumed.answer.map(bool).all()
    was_kept = [k in answered_before for k in row_keys(by_first, by_second, resumed)]
    assert resumed.cached.tolist() == was_kept and not reference.cached.any()

    # the ledger: one row per request sent, none twice within a run, none without a request
    rows = [r for r in ledger.rows() if r.origin == "map"]
    per_run = Counter((r.run_id, r.request_key) for r in rows)
    assert max(per_run.values()) == 1
    received = Counter(keys_of(by_first) + keys_of(by_second))
    recorded = Counter(r.request_key for r in rows if r.run_id != rows[0].run_id)  # not the warm-up/pilot
    assert set(received) <= set(recorded) and sum(recorded.values()) - sum(received.values()) <= CONCURRENCY
    assert len([r for r in rows_before if r.outcome == "started"]) >= len(lost) - FAILURES

    # the estimate made before the run, against what the same rows cost
    actual = sum(resumed.cost.iloc[PILOT:], Decimal(0))
    estimate = Decimal(str(plan["cost"]))
    print(f"estimate ${estimate:.6f} (range ${Decimal(str(plan['low'])):.6f} – ${Decimal(str(plan['high'])):.6f}) "
          f"vs actual ${actual:.6f} for the {ROWS - PILOT:,} rows after the pilot: "
          f"{(estimate - actual) / actual:+.1%}")  # fmt: skip
    assert abs(estimate - actual) <= Decimal("0.15") * actual


def row_keys(by_first: list[dict[str, Any]], by_second: list[dict[str, Any]], out: Any) -> list[str]:
    """Each row's request key, by its ticket text (every row's request was sent at least once)."""
    by_ticket = {b["messages"][-1]["content"]: k for b, k in zip(by_first + by_second, keys_of(by_first + by_second),
                                                                   strict=True)}  # fmt: skip
    return [by_ticket[t] for t in out.ticket]
