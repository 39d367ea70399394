"""notebooks/map_walkthrough.ipynb, run headless as CI runs it (no key: the bundled emulator),
tells the truth: the run it stops ends early with its rows kept, the resume sends requests only
for the rows without an answer, the --map cell after it sends none, and %deepseek usage lists
the three runs."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import nbformat
import pytest

from evo_magic.ledger.store import Ledger

pytestmark = pytest.mark.kernel

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "map_walkthrough.ipynb"


def text_of(cell: nbformat.NotebookNode) -> str:
    return "\n".join(o.get("text", "") or o.get("data", {}).get("text/plain", "") for o in cell.outputs)


def test_the_walkthrough_stops_resumes_with_only_the_missing_rows_and_lists_its_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, kept = tmp_path / NOTEBOOK.name, tmp_path / "executed.ipynb"
    shutil.copy(NOTEBOOK, path)
    monkeypatch.setenv("EVO_MAGIC_HOME", str(tmp_path / "home"))
    run = subprocess.run([sys.executable, str(REPO / ".ci" / "execute_notebook.py"), str(path), "--keep", str(kept)],
                         capture_output=True, text=True, timeout=240)  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    cells = [c for c in nbformat.read(kept, as_version=4).cells if c.cell_type == "code"]
    by_source = {c.source.split("\n")[0]: text_of(c) for c in cells}
    stopped = next(t for s, t in by_source.items() if s.startswith("def stop_after_120"))
    answered, left = map(int, re.search(r"300: (\d+) answered, 0 failed, (\d+) left", stopped).groups())
    assert 120 <= answered < 300 and answered + left == 300 and "stopped: stop" in stopped
    resumed = next(t for s, t in by_source.items() if s.startswith("out = evo_magic.map"))
    sent, without, errors = map(int, re.search(r"(\d+) requests sent now; (\d+) rows answered without one; (\d+) errors",
                                               resumed).groups())  # fmt: skip
    assert errors == 0 and without >= answered and "300: 300 answered" in resumed
    assert next(t for s, t in by_source.items() if s.startswith("fields = ")).strip().endswith("(0, True)")
    usage = next(t for s, t in by_source.items() if s.startswith("%deepseek usage"))
    assert "Map runs" in usage and "stop (" in usage
    with Ledger(tmp_path / "home" / "ledger.sqlite3") as ledger:
        rows = [r for r in ledger.rows() if r.origin == "map"]
    runs = list(dict.fromkeys(r.run_id for r in rows))
    assert len(runs) == 2  # the third run sent nothing
    answered_first = {r.request_key for r in rows if r.run_id == runs[0] and r.outcome in ("ok", "length")}
    asked_again = [r.request_key for r in rows if r.run_id == runs[1]]
    assert not answered_first & set(asked_again) and len(asked_again) == sent  # only the rows without an answer
    assert Counter(asked_again).most_common(1)[0][1] == 1  # each distinct request once
