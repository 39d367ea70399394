"""Keeps a test run out of the user's real home (a pytest plugin; tests/conftest.py uses it).

At configure time, before any fixture of any scope and before a subprocess kernel can start,
``HOME`` and ``EVO_MAGIC_HOME`` point at a temporary folder for the whole run (the per-test
fixture in conftest.py then gives each test its own ``EVO_MAGIC_HOME``). The real evo_magic
home (``EVO_MAGIC_HOME`` as it was, else ``~/.evo_magic``) is fingerprinted before the run and
compared after it: if it changed, the run fails, naming what changed.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from evo_magic.ledger.pricing import HOME_VAR, home_dir

REAL_HOME: Path = Path.home()
REAL_EVO_HOME: Path = home_dir()
_run_home: Path | None = None
_before: dict[str, tuple[int, int]] | None = None


def fingerprint(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` with its size and modification time (empty if none)."""
    if not folder.exists():
        return {}
    found: dict[str, tuple[int, int]] = {".": (0, folder.stat().st_mtime_ns)}
    for path in folder.rglob("*"):
        st = path.stat()
        found[str(path.relative_to(folder))] = (st.st_size, st.st_mtime_ns)
    return found


def changes(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> list[str]:
    names = sorted(set(before) | set(after))
    return [name for name in names if before.get(name) != after.get(name)]


def pytest_configure(config: pytest.Config) -> None:
    global _run_home, _before
    if _run_home is not None:  # configured once per run
        return
    _before = fingerprint(REAL_EVO_HOME)
    _run_home = Path(tempfile.mkdtemp(prefix="evo_magic_test_home_"))
    # removed at exit, after the in-process IPython shell has written its history there
    # (atexit runs last-registered first, and the shell registers later)
    atexit.register(shutil.rmtree, _run_home, ignore_errors=True)
    os.environ["HOME"] = str(_run_home)
    os.environ[HOME_VAR] = str(_run_home / ".evo_magic")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _before is None:
        return
    changed = changes(_before, fingerprint(REAL_EVO_HOME))
    if changed:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = (
            f"FAILED: the real evo_magic home {REAL_EVO_HOME} changed during the test run "
            f"({', '.join(changed)}): a test wrote outside its temporary EVO_MAGIC_HOME "
            "(or a notebook of yours ran at the same time)"
        )
        if reporter is not None:
            reporter.write_line(message, red=True, bold=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
