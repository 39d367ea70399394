"""Tests never touch the user's real home: HOME and EVO_MAGIC_HOME point at a temporary folder
for the whole run (module- and session-scoped fixtures and subprocess kernels included), and a
run during which the real ``~/.evo_magic`` changed fails."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from evo_magic.ledger.pricing import home_dir

from . import home_guard

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def home_seen_at_module_scope() -> Iterator[Path]:
    # a module-scoped fixture starts before the function-scoped isolation fixture: a kernel
    # started here (tests/test_failures.py) used to write into the user's real ledger
    yield home_dir()


def test_module_scoped_fixtures_do_not_see_the_real_home(home_seen_at_module_scope: Path) -> None:
    real = home_guard.REAL_EVO_HOME
    assert real is not None
    assert home_seen_at_module_scope != real
    assert not home_seen_at_module_scope.is_relative_to(home_guard.REAL_HOME)
    assert not Path.home().is_relative_to(home_guard.REAL_HOME)  # subprocess kernels inherit HOME


def test_a_run_that_writes_into_the_real_home_fails(tmp_path: Path) -> None:
    fake_home = tmp_path / "user"
    fake_home.mkdir()
    (tmp_path / "test_writes_home.py").write_text(
        "from tests import home_guard\n"
        "def test_writes():\n"
        "    folder = home_guard.REAL_EVO_HOME\n"
        "    folder.mkdir(parents=True, exist_ok=True)\n"
        "    (folder / 'ledger.sqlite3').write_text('phantom request')\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("EVO_MAGIC_HOME", "PYTEST_ADDOPTS")}
    env["HOME"] = str(fake_home)
    env["PYTHONPATH"] = str(ROOT)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.home_guard",
         "--rootdir", str(tmp_path), "-c", os.devnull, str(tmp_path / "test_writes_home.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    out = run.stdout + run.stderr
    assert "1 passed" in out, out  # the test itself passed ...
    assert run.returncode != 0, out  # ... but the run failed
    assert "real" in out and str(fake_home / ".evo_magic") in out and "ledger.sqlite3" in out
