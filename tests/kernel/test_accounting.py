"""Ledger wiring in a real kernel: priced footers, totals across a kernel restart, budget."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from .harness import Kernel

pytestmark = pytest.mark.kernel


@pytest.fixture(scope="module")
def emu() -> Iterator[object]:
    from evo_magic.emulator import Emulator

    with Emulator() as e:
        yield e


def start(emu: object, home: Path) -> Kernel:
    k = Kernel(
        {
            "EVOLINK_API_KEY": "sk-ledger-test-7777",
            "EVOLINK_BASE_URL": emu.url,  # type: ignore[attr-defined]
            "EVO_MAGIC_HOME": str(home),
            "JPY_SESSION_NAME": "/work/analysis.ipynb",
        }
    )
    assert k.execute("%load_ext evo_magic").ok
    return k


def test_costs_persist_across_restart_and_budget_refuses(emu: object, tmp_path: Path) -> None:
    home = tmp_path / "home"
    k = start(emu, home)
    try:
        ex = k.execute("%%deepseek -o r\nExplain medians")
        assert ex.ok, ex.error_text
        assert "$" in ex.final_html()  # the footer shows the cost
        first = k.execute("print(r.usage.prompt_tokens, r.usage.completion_tokens, r.cost)").text().split()
    finally:
        k.close()
    k = start(emu, home)  # a kernel restart
    try:
        assert k.execute("%%deepseek\nAnd means?").ok
        table = k.execute("%deepseek usage").text()
        assert "analysis.ipynb" in table and "2" in table
        rows = k.execute(
            "import evo_magic\nrs = evo_magic.usage()\nprint(len(rs), rs[0].prompt_tokens, rs[0].completion_tokens, rs[0].cost)"
        )
        n, prompt, completion, cost = rows.text().split()
        assert n == "2" and [prompt, completion, cost] == first  # exactly what the API reported, priced
        assert k.execute("%deepseek budget 0.0002").ok
        refused = k.execute("%%deepseek\nOne more?")
        assert not refused.ok and "Budget" in refused.error_text and "of $0.0002" in refused.error_text
        assert len(refused.error_text.strip().splitlines()) == 1
        assert "Waiting for" not in json.dumps([m["content"] for m in refused.messages])  # no live view left
        assert k.execute("%deepseek budget off").ok
        assert k.execute("%%deepseek\nOne more?").ok
    finally:
        k.close()


def test_a_kernel_killed_mid_answer_leaves_a_started_row(tmp_path: Path) -> None:
    """The API bills a request the kernel never saw finish: the ledger shows it, cost unknown."""
    import time

    from evo_magic.emulator import Emulator
    from evo_magic.ledger.store import Ledger

    home = tmp_path / "home"
    with Emulator(tokens_per_second=50) as slow:
        k = start(slow, home)
        try:
            assert k.execute("%%deepseek\nWhat is 2+2?").ok
            k.kc.execute("%%deepseek\nWrite an essay of 3000 words about sampling bias")
            with Ledger(home / "ledger.sqlite3") as ledger:
                deadline = time.monotonic() + 30
                while [r.outcome for r in ledger.rows()] != ["ok", "started"]:
                    assert time.monotonic() < deadline, [r.outcome for r in ledger.rows()]
                    time.sleep(0.05)
            time.sleep(0.5)  # streaming now
            # SIGKILL, nothing settles the request. (Not k.close() alone: jupyter_client's
            # shutdown_kernel(now=True) interrupts the kernel first, which may settle the row.)
            k.km.provisioner.process.kill()  # type: ignore[union-attr]
            k.km.provisioner.process.wait(10)  # type: ignore[union-attr]
        finally:
            k.close()
    k = start(_NoEmulator(), home)  # a restarted kernel, reading the same ledger
    try:
        rows = k.execute("import evo_magic\nfor r in evo_magic.usage(): print(r.outcome, r.prompt_tokens, r.cost)")
        ok, started = rows.text().strip().splitlines()
        assert ok.startswith("ok ") and started == "started None None"
        usage = k.execute("%deepseek usage").text()
        assert "2 (1 without usage)" in usage and "+ 1 unknown" in usage, usage
    finally:
        k.close()


def test_three_offline_cells_are_recorded_as_emulator_traffic_and_bill_nothing(tmp_path: Path) -> None:
    """The review's case: no key, `%deepseek offline`, three cells, then usage, budget, a restart."""
    home = tmp_path / "home"
    k = Kernel({"EVO_MAGIC_HOME": str(home), "JPY_SESSION_NAME": "/work/offline.ipynb"})
    try:
        assert k.execute("%load_ext evo_magic\n%deepseek offline --if-no-key --rate 5000").ok
        assert k.execute("%deepseek budget 0.0001").ok  # less than three answers would cost, if billed
        for i, question in enumerate(("What is 2+2?", "And 3+3?", "And 4+4?")):
            ex = k.execute(f"%%deepseek -o r{i}\n{question}")
            assert ex.ok, ex.error_text
            footer = re.search(r'<div class="evo-footer"[^>]*>(.*?)</div>', ex.final_html())
            assert footer is not None and re.search(r" · (?:&lt;)?\$0\.\d+ if billed \(emulator\)$", footer.group(1))  # off-peak: "<$0.0001", footer
        assert k.execute("print(r0.offline, r0.cost > 0, r2.priced)").text().split() == ["True", "True", "True"]
        usage = k.execute("%deepseek usage").text()
        assert "deepseek-v4-flash (emulator)" in usage and "if billed (emulator)" in usage, usage
        (total,) = [line for line in usage.splitlines() if line.startswith("Total:")]
        assert total.startswith("Total: $0.00 · emulator, not billed: $") and "3 requests (3 emulator)" in total
        rows = k.execute("import evo_magic\nrs = evo_magic.usage()\nprint(*[r.offline for r in rs], rs.total_cost)")
        assert rows.text().split() == ["True", "True", "True", "0"]
        spend = k.execute("from evo_magic.runtime import root\nprint(root().accounting.ledger.spend('/work/offline.ipynb'))")
        assert spend.text().strip() == "Spend(cost=Decimal('0'), unknown=0)"
    finally:
        k.close()
    k = Kernel({"EVO_MAGIC_HOME": str(home), "JPY_SESSION_NAME": "/work/offline.ipynb"})  # a restart
    try:
        assert k.execute("%load_ext evo_magic\n%deepseek restore").ok
        last = "evo_magic.session().turns[-1].reply"
        shown = k.execute(f"import evo_magic\nprint({last}.offline, repr({last}).splitlines()[-1])").text().strip()
        assert shown.startswith("True ") and shown.endswith(" if billed (emulator)"), shown  # restored, still marked
    finally:
        k.close()


class _NoEmulator:
    url = "http://127.0.0.1:9"  # nothing is asked of it
