"""The quick loop on several processes (a pytest plugin; tests/conftest.py uses it).

``pytest -m "not kernel and not browser"`` — the quick loop of the README — runs on one worker
process more than the machine has cores (three here: many tests wait on sockets and timers),
up to five, each taking the next test when it is free (``--dist worksteal``), when
pytest-xdist is installed and neither ``-n``, ``-p no:xdist`` nor ``--pdb`` says otherwise.
It does not even import ``tests/kernel`` and ``tests/browser``: every test there carries their
markers and no test elsewhere may (tests/conftest.py). The whole suite (kernels and a browser,
with their timing checks) keeps running in one process, as CI runs it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
SLOW = ("kernel", "browser")  # the folders whose tests carry these markers (tests/markers.py)


def quick_loop(markexpr: str) -> bool:
    """The selection surely leaves out both the kernel and the browser tests: terms joined by
    ``and`` alone (no ``or``, no parentheses), ``not kernel`` and ``not browser`` among them."""
    terms = " ".join(markexpr.split()).split(" and ")
    if any(" or " in f" {term} " or "(" in term for term in terms):
        return False
    return {"not kernel", "not browser"} <= set(terms)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """In the quick loop, the kernel and browser folders are not collected at all."""
    if collection_path.parent == TESTS and collection_path.name in SLOW:
        return True if quick_loop(config.getoption("markexpr") or "") else None
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin("xdist") or hasattr(config, "workerinput"):
        return
    if config.getoption("numprocesses", None) is not None or config.getoption("collectonly"):
        return
    if not quick_loop(config.getoption("markexpr") or "") or config.getoption("usepdb", False):
        return
    workers = min((os.cpu_count() or 1) + 1, 5)
    config.option.numprocesses = workers
    if config.getoption("dist", "no") == "no":
        config.option.dist = "worksteal"
    config.option.tx = ["popen"] * workers
