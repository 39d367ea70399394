"""Batch benchmark: evo_magic.map and its scheduler against the emulator, side by side with the
ideal, a plain asyncio + official ``openai.AsyncOpenAI`` loop and raw sockets; then the peak
memory of evo_magic.map over 100,000 rows beside the memory of its input and of its answers.

Run:  python benchmarks/bench_map.py [--rows N] [--memory-rows N] [--quick]

The emulator runs in its own process (``python -m evo_magic.emulator --latency 0.2
--max-concurrency 64``: 200 ms before each answer, 429 + Retry-After above 64 requests in
flight), so the CPU measured here is the client's alone. Each contender sends the same N rows
(a review-classification template, thinking off, 20 output tokens at most) at concurrency 64:

1. the scheduler (one AsyncClient in lanes, adaptive concurrency);
2. plain asyncio + ``openai.AsyncOpenAI`` (its default httpx pool), ``asyncio.Semaphore(64)``;
3. plain asyncio + one ``httpx.AsyncClient`` (its shared pool), the same semaphore: what the
   lanes avoid;
4. raw asyncio sockets (64 keep-alive connections, hand-written HTTP/1.1): what the emulator
   itself sustains, with next to no client cost.

Printed per contender: rows/s, share of the ideal (limit / latency = 320 rows/s), CPU per row
of this process, 429s. Targets (issue #13): >= 90 % of the ideal, >= the openai loop's rate,
< 1 ms CPU per row. The machine's load average is printed too: other work on the same cores
slows every contender.

Memory: a fresh Python process (so nothing measured before counts) imports pandas and
evo_magic, builds a DataFrame of ``--memory-rows`` rows and runs evo_magic.map over it against
an emulator without latency (so 100,000 rows take a minute or two, not five). Printed: the
process's resident memory before the run and its peak during it (``getrusage``), beside two
baselines — the input DataFrame's own memory and a plain Python list of the answers (what any
loop that keeps the answers holds) — and the output DataFrame's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evo_magic.batch.scheduler import Scheduler  # noqa: E402
from evo_magic.batch.template import compile_template  # noqa: E402
from evo_magic.config import Endpoint, Secret  # noqa: E402
from evo_magic.core.options import RequestOptions  # noqa: E402
from evo_magic.protocol import openai_chat  # noqa: E402

LATENCY = 0.2
LIMIT = 64
KEY = "sk-bench-map-0000"
TEMPLATE = "Classify the sentiment of this product review as positive, negative or neutral: {text}"


def bodies(n: int, what: str = "Review") -> list[dict]:
    template = compile_template(TEMPLATE, ["text"])
    opts = RequestOptions(model="deepseek-v4-flash", thinking=False, max_tokens=20, stream=False)
    return [openai_chat.build_body(template.messages({"text": f"{what} {i}: it works, mostly."}), opts) for i in range(n)]


def start_emulator(latency: float = LATENCY) -> tuple[subprocess.Popen[str], str]:
    cmd = [sys.executable, "-m", "evo_magic.emulator", "--latency", str(latency), "--max-concurrency", str(LIMIT)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().split()[-1]


async def with_scheduler(url: str, todo: list[dict]) -> int:
    s = Scheduler(Endpoint((url,), Secret(KEY)), concurrency=LIMIT)
    summary = await s.run(enumerate(todo))
    assert summary.done == len(todo), summary
    return summary.throttled


async def with_openai(url: str, todo: list[dict]) -> int:
    import openai

    client = openai.AsyncOpenAI(api_key=KEY, base_url=url + "/v1", max_retries=5)
    gate = asyncio.Semaphore(LIMIT)

    async def one(body: dict) -> None:
        async with gate:
            await client.chat.completions.create(
                model=body["model"], messages=body["messages"], max_tokens=body["max_tokens"],
                extra_body={"thinking": body["thinking"]},
            )

    try:
        await asyncio.gather(*(one(b) for b in todo))
    finally:
        await client.close()
    return 0


async def with_httpx_pool(url: str, todo: list[dict]) -> int:
    import httpx

    limits = httpx.Limits(max_connections=LIMIT, max_keepalive_connections=LIMIT)
    gate = asyncio.Semaphore(LIMIT)
    headers = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def one(body: dict) -> None:
            async with gate:
                r = await client.post(url + "/v1/chat/completions", content=json.dumps(body), headers=headers)
                r.raise_for_status()
                json.loads(r.content)

        await asyncio.gather(*(one(b) for b in todo))
    return 0


async def with_raw_sockets(url: str, todo: list[dict]) -> int:
    host, port = url.removeprefix("http://").split(":")
    feed = iter(todo)
    head = "POST /v1/chat/completions HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n"
    head += "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n"

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        for body in feed:
            payload = json.dumps(body).encode()
            writer.write(head.format(host, KEY, len(payload)).encode() + payload)
            headers = await reader.readuntil(b"\r\n\r\n")
            assert headers.startswith(b"HTTP/1.1 200"), headers[:40]
            length = next(int(line.split(b":")[1]) for line in headers.split(b"\r\n")
                          if line.lower().startswith(b"content-length"))
            json.loads(await reader.readexactly(length))
        writer.close()

    await asyncio.gather(*(worker() for _ in range(LIMIT)))
    return 0


def warm_up(url: str) -> None:
    """Imports, the ledger's file, the tokenizer: what the first call of each contender would
    otherwise pay inside its measure (other rows than the measured ones: nothing is kept for them)."""
    import tempfile

    import openai  # noqa: F401

    os.environ.update(EVOLINK_API_KEY=KEY, EVOLINK_BASE_URL=url, EVO_MAGIC_HOME=tempfile.mkdtemp())
    asyncio.run(with_scheduler(url, bodies(LIMIT, "warm-up")))
    with_map(url, bodies(LIMIT, "warm-up map"))


def with_map(url: str, todo: list[dict]) -> int:
    """evo_magic.map itself: the same rows as a DataFrame, every request a ledger row, every answer kept."""
    import pandas as pd

    import evo_magic

    df = pd.DataFrame({"text": [b["messages"][-1]["content"] for b in todo]})
    out = evo_magic.map(df, TEMPLATE, model="deepseek-v4-flash", thinking=False, max_tokens=20,
                        concurrency=LIMIT, progress="none")
    summary = out.attrs["evo_magic"]
    assert summary.answered == len(todo), summary
    return summary.throttled


def memory_child(n: int, url: str) -> None:
    """In a fresh process: evo_magic.map over ``n`` rows; prints one JSON line of figures."""
    import gc
    import resource
    import tempfile

    import pandas as pd

    import evo_magic
    import evo_magic.batch.run  # imported before the baseline is read

    os.environ.update(EVOLINK_API_KEY=KEY, EVOLINK_BASE_URL=url, EVO_MAGIC_HOME=tempfile.mkdtemp())
    opts = {"model": "deepseek-v4-flash", "thinking": False, "max_tokens": 20, "progress": "none"}
    evo_magic.map(pd.DataFrame({"text": ["warm up"]}), TEMPLATE, **opts)  # the lazy imports, the tokenizer
    df = pd.DataFrame({"text": [f"Review {i}: it works, mostly." for i in range(n)]})
    gc.collect()
    with open("/proc/self/statm") as f:
        before = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    cpu, wall = time.process_time(), time.perf_counter()
    out = evo_magic.map(df, TEMPLATE, concurrency=LIMIT, **opts)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    answers = out.answer.tolist()
    print(json.dumps({
        "rows": n, "seconds": wall, "cpu_ms": cpu / n * 1e3, "before": before, "peak": peak,
        "input": int(df.memory_usage(deep=True).sum()), "output": int(out.memory_usage(deep=True).sum()),
        "answers": sys.getsizeof(answers) + sum(sys.getsizeof(a) for a in answers),
        "answered": out.attrs["evo_magic"].answered,
    }))  # fmt: skip


def measure_memory(n: int) -> dict:
    proc, url = start_emulator(latency=0.0)
    try:
        child = subprocess.run([sys.executable, __file__, "--memory-child", str(n), url], capture_output=True,
                               text=True, check=True, cwd=ROOT)  # fmt: skip
    finally:
        proc.terminate()
        proc.wait()
    return json.loads(child.stdout.strip().splitlines()[-1])


def print_memory(m: dict) -> None:
    mb = 1e6
    print(f"\nmemory, evo_magic.map over {m['rows']:,} rows ({m['rows'] / m['seconds']:,.0f} rows/s without latency, "
          f"{m['cpu_ms']:.2f} ms CPU per row):")
    print(f"  process before the run {m['before'] / mb:8.1f} MB  (Python, pandas, evo_magic, the input)")
    print(f"  peak during the run    {m['peak'] / mb:8.1f} MB  = +{(m['peak'] - m['before']) / mb:.1f} MB "
          f"({(m['peak'] - m['before']) / m['rows']:,.0f} bytes a row)")
    print(f"  baseline: the input DataFrame {m['input'] / mb:.1f} MB, a list of the answers "
          f"{m['answers'] / mb:.1f} MB; the output DataFrame {m['output'] / mb:.1f} MB")


def measure(name: str, run: Callable[[str, list[dict]], Awaitable[int] | int], url: str, todo: list[dict]) -> dict:
    cpu, wall = time.process_time(), time.perf_counter()
    result = run(url, todo)
    throttled = result if isinstance(result, int) else asyncio.run(result)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    rate = len(todo) / wall
    return {"name": name, "rate": rate, "ideal": rate / (LIMIT / LATENCY), "cpu_ms": cpu / len(todo) * 1e3,
            "throttled": throttled, "seconds": wall}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=3_200)
    p.add_argument("--memory-rows", type=int, default=100_000, help="rows of the memory run (0: none)")
    p.add_argument("--quick", action="store_true", help="640 rows, and 10,000 for the memory")
    p.add_argument("--memory-child", nargs=2, metavar=("ROWS", "URL"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.memory_child:
        memory_child(int(args.memory_child[0]), args.memory_child[1])
        return
    n = 640 if args.quick else args.rows
    memory_rows = min(args.memory_rows, 10_000) if args.quick else args.memory_rows
    todo = bodies(n)
    proc, url = start_emulator()
    try:
        warm_up(url)
        results = [
            measure("evo_magic.map", with_map, url, todo),
            measure("evo_magic.batch scheduler", with_scheduler, url, todo),
            measure("asyncio + openai.AsyncOpenAI", with_openai, url, todo),
            measure("asyncio + httpx.AsyncClient pool", with_httpx_pool, url, todo),
            measure("raw asyncio sockets (emulator alone)", with_raw_sockets, url, todo),
        ]
    finally:
        proc.terminate()
        proc.wait()
    load = os.getloadavg()
    print(f"{n:,} rows, emulator latency {LATENCY * 1000:.0f} ms, limit {LIMIT}: ideal {LIMIT / LATENCY:.0f} rows/s; "
          f"{os.cpu_count()} cores, load average {load[0]:.1f}")
    print(f"{'contender':36} {'rows/s':>8} {'of ideal':>9} {'CPU/row':>9} {'429s':>6}")
    for r in results:
        print(f"{r['name']:36} {r['rate']:8.1f} {r['ideal']:9.0%} {r['cpu_ms']:7.2f}ms {r['throttled']:6d}")
    base = results[2]
    print(f"evo_magic.map vs the openai loop: {results[0]['rate'] / base['rate']:.2f}x the rate, "
          f"{results[0]['cpu_ms'] / base['cpu_ms']:.2f}x the CPU per row")
    if memory_rows:
        print_memory(measure_memory(memory_rows))


if __name__ == "__main__":
    main()
