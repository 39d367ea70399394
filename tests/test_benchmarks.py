"""The benchmark scripts never write to the user's ledger: each one that sends requests runs
on a temporary EVO_MAGIC_HOME (bench_stream's kernels once recorded their emulator answers as
billed requests of "untitled (cwd: …)" in the real ~/.evo_magic)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

BENCHMARKS = sorted((Path(__file__).resolve().parents[1] / "benchmarks").glob("bench_*.py"))


@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda p: p.name)
def test_a_benchmark_that_asks_runs_on_a_temporary_evo_magic_home(script: Path) -> None:
    source = script.read_text(encoding="utf-8")
    if not re.search(r"\bKernel\(|evo_magic\.map\(|\.ask\(|Emulator\(", source):
        pytest.skip("sends no request")
    temporary = "EVO_MAGIC_HOME" in source and re.search(r"mkdtemp\(|TemporaryDirectory\(|\"/tmp/", source)
    assert temporary, f"{script.name} must run on a temporary EVO_MAGIC_HOME"
