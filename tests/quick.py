"""The quick loop on two processes (a pytest plugin; tests/conftest.py uses it).

``pytest -m "not kernel and not browser"`` — the quick loop of the README — runs on as many
worker processes as the machine has cores (two here) when pytest-xdist is installed, unless
``-n`` / ``-p no:xdist`` says otherwise. The whole suite (kernels and a browser, with their
timing checks) keeps running in one process, as CI runs it.
"""

from __future__ import annotations

import os

import pytest


def quick_loop(markexpr: str) -> bool:
    """The selection leaves out both the kernel and the browser tests."""
    words = " ".join(markexpr.split())
    return "not kernel" in words and "not browser" in words


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin("xdist") or hasattr(config, "workerinput"):
        return
    if config.getoption("numprocesses", None) is not None or config.getoption("collectonly"):
        return
    if not quick_loop(config.getoption("markexpr") or "") or config.getoption("usepdb", False):
        return
    workers = min(os.cpu_count() or 1, 4)
    if workers < 2:
        return
    config.option.numprocesses = workers
    config.option.dist = "load"
    config.option.tx = ["popen"] * workers
