"""Answer-cache benchmark: what looking an exact request up costs, per cell and for a 10,000-row
``evo_magic.map`` re-run, and what ``%load_ext`` costs with the cache on. In process, on a
temporary EVO_MAGIC_HOME; the API is an ``httpx.MockTransport`` (no network).

Run:  python benchmarks/bench_cache.py [--quick]

Prints, side by side with baselines measured in the same run:

1. per cell (a 12-turn conversation, thinking on, ~2 KB answers), medians:
   the request key (SHA-256 of the exact body), the store lookup (``Accounting.cached``:
   ``Answers.get`` + the events parsed), and a whole cell answered from the cache
   (``Session.ask``: key, lookup, fold, settle — one ledger row — and the turn); beside a bare
   ``sqlite3`` primary-key read of the same row, and the same cell asked of the (instant)
   mock API with the cache off;
2. a 10,000-row re-run: ``Answers.get_many`` of 10,000 keys (events parsed) beside bare
   primary-key reads of the same rows (one ``SELECT ... WHERE key = ?`` each, and ``IN``
   chunks of 900);
3. ``%load_ext evo_magic`` in a fresh interpreter with ``EVO_MAGIC_CACHE=on`` beside
   ``EVO_MAGIC_CACHE`` unset (median of N runs; sqlite3 must not be imported by either).
"""

from __future__ import annotations

import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HOME = tempfile.mkdtemp(prefix="evo-bench-cache-")
os.environ["EVO_MAGIC_HOME"] = HOME
os.environ["JPY_SESSION_NAME"] = "/work/bench-cache.ipynb"
os.environ["EVOLINK_API_KEY"] = "sk-bench-cache-0000"
os.environ["EVOLINK_BASE_URL"] = "http://127.0.0.1:9"

import httpx  # noqa: E402

import evo_magic  # noqa: E402
from evo_magic.core.replay import request_key  # noqa: E402
from evo_magic.core.snapshot import TurnSnapshot  # noqa: E402
from evo_magic.ledger.answers import Answers  # noqa: E402
from evo_magic.runtime import reset_root, root  # noqa: E402
from evo_magic.sessions.reply import Reply, Timing  # noqa: E402

TURNS = 12
ANSWER = ("The answer, in a few paragraphs with code. " * 50)[:2000]


def sse(text: str, reasoning: str) -> bytes:
    base = {"id": "b", "model": "deepseek-v4-flash", "object": "chat.completion.chunk"}
    chunks = [
        {**base, "choices": [{"index": 0, "delta": {"content": None, "reasoning_content": reasoning}}]},
        {**base, "choices": [{"index": 0, "delta": {"content": text}}]},
        {**base, "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "stop"}],
         "usage": {"prompt_tokens": 900, "completion_tokens": 600, "prompt_cache_hit_tokens": 512,
                   "prompt_cache_miss_tokens": 388, "completion_tokens_details": {"reasoning_tokens": 120}}},
    ]  # fmt: skip
    return b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"


def api(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=sse(ANSWER, "Thinking. " * 40))


def median_ms(fn: Callable[[], Any], n: int) -> float:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def conversation(cache: str | None) -> list[float]:
    """Ask the 12 cells of a conversation (a fresh session); each cell's time in ms."""
    session = evo_magic.session("bench")
    session.reset()
    times = []
    for i in range(TURNS):
        started = time.perf_counter()
        session.ask(f"Question {i}: what about step {i}?", cache=cache, cell=i + 1)
        times.append((time.perf_counter() - started) * 1000)
    return times


def per_cell(repeats: int) -> None:
    reset_root()
    root().transport_options = {"http_transport": httpx.MockTransport(api)}
    asked = [t for _ in range(repeats) for t in conversation("off")]  # the mock API answers at once
    conversation("on")  # keeps the 12 answers
    replayed = [t for _ in range(repeats) for t in conversation("on")]
    session = evo_magic.session("bench")
    last = session.turns[-1].reply
    key = last.request_key or ""
    body = {"model": "deepseek-v4-flash", "messages": [m.to_openai() for m in session.history], "stream": True}
    acc = root().accounting
    probe = Reply(TurnSnapshot(), "deepseek-v4-flash", "bench", Timing(0.0), request_key=key)
    hashing = median_ms(lambda: request_key("openai", "/v1/chat/completions", body), 200)
    lookup = median_ms(lambda: acc.cached(session, probe), 200)
    path = Path(HOME) / "ledger.sqlite3"
    conn = sqlite3.connect(path)
    bare = median_ms(lambda: conn.execute("SELECT events FROM answers WHERE key = ?", (key,)).fetchone(), 200)
    conn.close()
    size = len(json.dumps(body))
    print(f"1. per cell ({TURNS}-turn conversation, last request body {size / 1024:.0f} KB), medians")
    print(f"   request key (SHA-256 of the body)        : {hashing:8.3f} ms")
    print(f"   store lookup (Answers.get + events)      : {lookup:8.3f} ms   baseline bare PK read: {bare:.3f} ms "
          f"(ratio {lookup / bare:.1f}x)")
    print(f"   a cell answered from the cache (ask)     : {statistics.median(replayed):8.3f} ms   baseline the same "
          f"cell asked of the instant mock API: {statistics.median(asked):.3f} ms\n")


def rerun(n: int) -> None:
    answers = Answers(root().accounting.ledger)
    keys = [f"{i:064x}" for i in range(n)]
    row = ("2026-11-30T00:00:00+00:00", "openai", "deepseek-v4-flash",
           json.dumps([{"t": "text", "text": ANSWER, "c": 0}, {"t": "finish", "reason": "stop", "c": 0}]), "0.0003")
    answers.ledger.write(lambda conn: conn.executemany(
        "INSERT OR REPLACE INTO answers (key, at, protocol, model, events, cost) VALUES (?, ?, ?, ?, ?, ?)",
        [(k, *row) for k in keys]))  # fmt: skip
    started = time.perf_counter()
    found = answers.get_many(keys)
    ours = time.perf_counter() - started
    assert len(found) == n
    conn = sqlite3.connect(Path(HOME) / "ledger.sqlite3")
    started = time.perf_counter()
    for k in keys:
        conn.execute("SELECT * FROM answers WHERE key = ?", (k,)).fetchone()
    one_by_one = time.perf_counter() - started
    started = time.perf_counter()
    for start in range(0, n, 900):
        chunk = keys[start : start + 900]
        conn.execute(f"SELECT * FROM answers WHERE key IN ({', '.join('?' * len(chunk))})", chunk).fetchall()
    chunked = time.perf_counter() - started
    conn.close()
    print(f"2. a {n:,}-row re-run: Answers.get_many (events parsed): {ours * 1000:7.1f} ms "
          f"({ours / n * 1e6:.1f} µs a row)")
    print(f"   baseline bare PK reads: one by one {one_by_one * 1000:7.1f} ms, IN chunks of 900 {chunked * 1000:7.1f} ms\n")


LOAD = (
    "import sys, time\n"
    "from IPython.core.interactiveshell import InteractiveShell\n"
    "ip = InteractiveShell.instance()\n"
    "before = set(sys.modules)\n"
    "t = time.perf_counter()\n"
    "ip.extension_manager.load_extension('evo_magic')\n"
    "took = time.perf_counter() - t\n"
    "new = set(sys.modules) - before\n"
    "print(took, 'sqlite3' in new or 'evo_magic.ledger.store' in new, len(new))\n"
)


def load_ext(runs: int) -> None:
    modes = {"EVO_MAGIC_CACHE=on": "on", "unset (baseline)": None}
    times: dict[str, list[float]] = {label: [] for label in modes}
    modules: dict[str, set[str]] = {label: set() for label in modes}
    for _ in range(runs):  # interleaved, so a busy machine slows both alike
        for label, mode in modes.items():
            env = {k: v for k, v in os.environ.items() if k != "EVO_MAGIC_CACHE"}
            if mode:
                env["EVO_MAGIC_CACHE"] = mode
            took, ledger, count = subprocess.run([sys.executable, "-c", LOAD], capture_output=True, text=True,
                                                 check=True, env=env, cwd=ROOT).stdout.split()  # fmt: skip
            times[label].append(float(took))
            modules[label].add(f"{count} modules{', the ledger and sqlite3' if ledger == 'True' else ''}")
    print(f"3. %load_ext evo_magic in a fresh interpreter (median of {runs}, interleaved)")
    for label in modes:
        ms = statistics.median(times[label]) * 1000
        print(f"   {label:<20}: {ms:7.1f} ms   imports {' / '.join(sorted(modules[label]))}")


def main() -> None:
    quick = "--quick" in sys.argv
    print(f"evo_magic answer-cache benchmark (EVO_MAGIC_HOME={HOME})\n")
    per_cell(2 if quick else 5)
    rerun(1000 if quick else 10_000)
    load_ext(3 if quick else 7)
    root().close()


if __name__ == "__main__":
    main()
