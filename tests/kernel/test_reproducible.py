"""Reproducible notebooks in real kernels (issue 14): notebooks/data_science.ipynb run with
nbclient against the emulator with ``EVO_MAGIC_CACHE=on``, restarted and run again, sends no
request, costs $0 and saves the same outputs; ``replay-only`` with an empty cache fails its
first AI cell in one line; ``jupyter nbconvert`` under ``replay-only`` keeps every answer's
provenance; another machine restores the conversation from the saved notebook alone."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from evo_magic.ledger.store import Ledger

from .harness import Kernel

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "data_science.ipynb"
KEY = "sk-reproducible-6666"
TIMES = ("time", "answered_at")  # what differs between two runs of the same answers
LIVE = re.compile(r' data-evo-live="[0-9a-f]+"')  # the live view's widget key: one per display


@dataclass
class Run:
    nb: Any
    requests: int
    seconds: float


def execute(path: Path, emulator: Any) -> Run:
    """Run the notebook at ``path`` in a new kernel (a restart) and save it, as papermill would."""
    nb = nbformat.read(path, as_version=4)
    sent = len(emulator.requests)
    started = time.monotonic()
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.monotonic() - started
    nbformat.write(nb, path)
    return Run(nbformat.read(path, as_version=4), len(emulator.requests) - sent, seconds)


def provenances(nb: Any) -> list[dict[str, Any]]:
    """Each answer's provenance (not the marks undo and reset leave)."""
    return [o.metadata["evo_magic"] for c in nb.cells for o in c.get("outputs", ()) if "schema" in
            o.get("metadata", {}).get("evo_magic", {})]  # fmt: skip


def saved(nb: Any) -> list[Any]:
    """Every code cell's outputs as saved: text, HTML and metadata, times and widget keys left out."""
    cells = []
    for cell in (c for c in nb.cells if c.cell_type == "code"):
        outputs = []
        for o in cell.outputs:
            out = json.loads(json.dumps(o))
            entry = out.get("metadata", {}).get("evo_magic", {})
            for name in TIMES:
                entry.pop(name, None)
            if "text/html" in out.get("data", {}):
                out["data"]["text/html"] = LIVE.sub("", out["data"]["text/html"])
            outputs.append(out)
        cells.append([cell.execution_count, outputs])
    return cells


@pytest.fixture
def headless(emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the notebook, and the environment nbclient's kernels start with."""
    path = tmp_path / "data_science.ipynb"
    shutil.copy(NOTEBOOK, path)
    for name, value in {"EVOLINK_API_KEY": KEY, "EVOLINK_BASE_URL": emulator.url, "EVO_MAGIC_NOTEBOOK": str(path),
                        "EVO_MAGIC_HOME": str(tmp_path / "home")}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    return path


def test_a_re_run_with_the_cache_on_sends_nothing_costs_nothing_and_saves_the_same(
    headless: Path, emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EVO_MAGIC_CACHE", "on")
    first = execute(headless, emulator)
    with Ledger(tmp_path / "home" / "ledger.sqlite3") as ledger:
        paid = ledger.rows(str(headless))
    second, third = execute(headless, emulator), execute(headless, emulator)
    assert first.requests == len(provenances(first.nb)) == 4  # three cells and %deepseek fix
    assert second.requests == third.requests == 0
    with Ledger(tmp_path / "home" / "ledger.sqlite3") as ledger:
        replayed = ledger.rows(str(headless))[len(paid) :]
    assert [r.outcome for r in replayed] == ["cached"] * 8 and all(r.cost == 0 for r in replayed)
    cost = sum((r.cost for r in paid if r.cost is not None), Decimal(0))
    assert cost > 0 and sum((r.saved or Decimal(0) for r in replayed), Decimal(0)) == 2 * cost
    assert saved(second.nb) == saved(third.nb)  # text, HTML and metadata: only the times differ
    nbformat.validate(second.nb)
    # against the run that paid: the same answers, requests, tokens and turns; the footer says cached
    for paying, free in zip(provenances(first.nb), provenances(second.nb), strict=True):
        assert (free["cached"], paying["cached"], free["cost"], free["saved"]) == (True, False, "0", paying["cost"])
        same = ("request", "model_requested", "model_answered", "protocol", "tokens", "answer", "turn", "cell")
        assert {k: free.get(k) for k in same} == {k: paying.get(k) for k in same}
    asking = ", ".join(f"{(r.elapsed or 0) * 1000:.0f}" for r in paid)
    replaying = ", ".join(f"{(r.elapsed or 0) * 1000:.0f}" for r in replayed[:4])
    with capsys.disabled():
        print(f"\n[reproducible] first run: {first.requests} requests, ${cost}, {first.seconds:.2f} s "
              f"(answers {asking} ms); re-run after a restart: {second.requests} requests, $0 "
              f"(saved ${cost}), {second.seconds:.2f} s (answers {replaying} ms)")


def test_replay_only_with_an_empty_cache_fails_the_first_ai_cell_in_one_line(
    headless: Path, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVO_MAGIC_CACHE", "replay-only")
    sent = len(emulator.requests)
    with pytest.raises(CellExecutionError) as caught:
        execute(headless, emulator)
    assert len(emulator.requests) == sent
    message = str(caught.value)
    assert "%%deepseek\nHere is my sales data: {sales}" in message  # the first AI cell
    [line] = [ln for ln in message.splitlines() if ln.startswith("CacheMiss")]
    assert line.startswith('CacheMiss: replay-only: In[3] "Here is my sales data: pandas DataFrame')
    assert "%deepseek cache on (or EVO_MAGIC_CACHE=on)" in line and KEY not in message


def test_ci_replays_it_with_nbconvert_and_another_machine_restores_it_from_the_file(
    headless: Path, emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVO_MAGIC_CACHE", "on")
    execute(headless, emulator)
    monkeypatch.setenv("EVO_MAGIC_CACHE", "replay-only")  # CI: nothing may be spent
    sent = len(emulator.requests)
    out = tmp_path / "ci.ipynb"
    command = [sys.executable, "-m", "nbconvert", "--to", "notebook", "--execute", str(headless), "--output", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(emulator.requests) == sent
    ci = nbformat.read(out, as_version=4)
    assert [p["cached"] for p in provenances(ci)] == [True] * 4 and KEY not in out.read_text()
    # another machine: an empty EVO_MAGIC_HOME, JupyterLab naming the notebook it opened
    env = {"EVOLINK_API_KEY": KEY, "EVOLINK_BASE_URL": emulator.url, "EVO_MAGIC_HOME": str(tmp_path / "other"),
           "JPY_SESSION_NAME": str(out), "EVO_MAGIC_CACHE": "replay-only"}  # fmt: skip
    k = Kernel(env, cwd=str(tmp_path))
    try:
        assert k.execute("%load_ext evo_magic").ok
        restored = k.execute("%deepseek restore")
        assert "Restored 3 turns of session 'default' from the notebook ci.ipynb" in restored.text()
        history = k.execute("import evo_magic\nprint([m.role for m in evo_magic.session().history])").text()
        assert history.strip() == str(["user", "assistant"] * 3)
        assert k.execute(ci.cells[2].source).ok  # the DataFrame
        again = k.execute("%%deepseek --new\n" + ci.cells[4].source.split("\n", 1)[1])  # the first AI cell, anew
        assert again.ok and "cached · $0" in again.text(), again.error_text
        assert len(emulator.requests) == sent  # answered from what the notebook brought
    finally:
        k.close()
