"""Chat panel benchmark: streaming in a background thread, measured in a real kernel.

Run:  python benchmarks/bench_panel.py

Starts the bundled emulator in its own process and prints, side by side with a baseline
measured in the same run:

1. chunks per second of an answer streamed by the panel (background thread, emulator
   unthrottled) vs the same answer asked in a ``%%deepseek`` cell;
2. latency of a ``1+1`` cell while the panel streams an answer at a realistic pace, vs the same
   cell with the kernel idle (median and worst of 10);
3. time from Stop to the panel's question having ended (partial answer kept), vs the time
   between two chunks of the stream (the best an in-loop check could do).

Targets (issue #5): panel chunk rate >= 1/2 of the cell's; ``1+1`` well under a second while
streaming; Stop within 0.2 s.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_stream import KEY, cell_run, emulator, prompt  # noqa: E402

from tests.kernel.harness import Kernel  # noqa: E402

CHARS = 40_000


def kernel_for(url: str) -> Kernel:
    k = Kernel({"EVOLINK_API_KEY": KEY, "EVOLINK_BASE_URL": url, "EVO_MAGIC_HOME": "/tmp/evo-bench-panel"})
    assert k.execute("%load_ext evo_magic\nimport evo_magic").ok
    return k


def panel_rate(k: Kernel) -> tuple[int, float]:
    ex = k.execute(
        "p = evo_magic.panel()\n"
        f"p.send({prompt(CHARS)!r}, wait=True)\n"
        "r = evo_magic.session().turns[-1].reply\n"
        "print(r.snapshot.events, r.timing.elapsed)\np.close()",
        timeout=300,
    )
    assert ex.ok, ex.error_text
    events, elapsed = ex.text().split()
    return int(events), float(elapsed)


def latencies(k: Kernel, n: int = 10) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        assert k.execute("1+1").text().strip().endswith("2")
        out.append(time.perf_counter() - t0)
        time.sleep(0.05)
    return out


def main() -> None:
    with emulator(None) as fast:
        k = kernel_for(fast)
        try:
            k.execute("%config DeepSeekMagics.thinking = False")
            cell = cell_run(k, CHARS)
            events, elapsed = panel_rate(k)
        finally:
            k.close()
    cell_rate = cell["events"] / cell["elapsed"]
    rate = events / elapsed

    with emulator(400.0) as paced:  # ~400 tokens/s: a realistic stream
        k = kernel_for(paced)
        try:
            idle = latencies(k)
            assert k.execute(f"p = evo_magic.panel()\np.send({prompt(200_000)!r})").ok
            time.sleep(1.0)
            busy = latencies(k)
            assert k.execute("print(p.busy)").text().strip() == "True"
            stop = k.execute(
                "import time\nt0 = time.perf_counter(); p.stop(); p.wait(5)\n"
                "print(time.perf_counter() - t0, p.rows[-1]['status'])"
            ).text().split()
        finally:
            k.close()

    print(f"{'measure':44} {'panel':>12} {'baseline':>12}")
    print(f"{'chunks/s, unthrottled (vs a cell)':44} {rate:12,.0f} {cell_rate:12,.0f}   ratio {rate / cell_rate:.0%}")
    print(
        f"{'1+1 while streaming, median ms (vs idle)':44} {statistics.median(busy) * 1000:12.1f} "
        f"{statistics.median(idle) * 1000:12.1f}"
    )
    print(f"{'1+1 while streaming, worst ms (vs idle)':44} {max(busy) * 1000:12.1f} {max(idle) * 1000:12.1f}")
    print(f"{'Stop to ended, ms (vs one token at 400/s)':44} {float(stop[0]) * 1000:12.1f} {1000 / 400:12.1f}")
    print(f"status after Stop: {stop[1]}")


if __name__ == "__main__":
    main()
