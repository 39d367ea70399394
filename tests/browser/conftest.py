"""Fixtures of the browser tests: one JupyterLab server and one Chromium for the session, a
fresh browser context per test, and an output folder ``test-output/<test name>/`` per test."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from .. import markers
from . import harness

_OUTPUT_DIRS: list[str] = []


@pytest.fixture(scope="session")
def lab() -> Iterator[harness.Lab]:
    markers.require("browser", "starts JupyterLab")
    base = Path(tempfile.mkdtemp(prefix="evo-magic-lab-"))
    server = harness.Lab(base, harness.OUTPUT / "browser-session" / "jupyter_server.log")
    try:
        server.start()
        yield server
    finally:
        leftover = server.stop()
        shutil.rmtree(base, ignore_errors=True)
        assert not [p for p in leftover if harness.alive(p)], f"processes still alive: {leftover}"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    markers.require("browser", "starts Chromium")
    from playwright.sync_api import sync_playwright

    profile = Path(tempfile.mkdtemp(prefix="evo-magic-chromium-"))
    before = set(harness.children_of(os.getpid()))
    pw = sync_playwright().start()
    pids: set[int] = set()
    try:
        chromium = pw.chromium.launch(
            executable_path=harness.find_chromium(),
            headless=True,
            args=harness.CHROMIUM_ARGS,
            env={**os.environ, "XDG_CONFIG_HOME": str(profile / "config"), "XDG_CACHE_HOME": str(profile / "cache")},
        )
        pids = set(harness.children_of(os.getpid())) - before  # the Playwright driver and Chromium
        yield chromium
        chromium.close()
    finally:
        pw.stop()
        harness.stop_pids(sorted(pids))
        shutil.rmtree(profile, ignore_errors=True)


@dataclass
class UI:
    """One test's page and what it saw; ``out`` is the test's output folder."""

    page: Any
    lab: harness.Lab
    out: Path
    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def screenshot(self, name: str) -> Path:
        return harness.screenshot(self.page, self.out / name)


@pytest.fixture
def ui(request: pytest.FixtureRequest, lab: harness.Lab, browser: Any) -> Iterator[UI]:
    name = re.sub(r"[^\w.-]+", "_", request.node.name)
    out = harness.OUTPUT / name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    _OUTPUT_DIRS.append(str(out))
    request.node.user_properties.append(("output_dir", str(out)))
    print(f"browser test output: {out}")

    context = browser.new_context(viewport={"width": harness.WIDTH, "height": harness.HEIGHT})
    page = context.new_page()
    page.set_default_timeout(harness.WAIT * 1000)
    seen = UI(page, lab, out)

    def guard(route: Any) -> None:
        url = route.request.url
        if url.startswith(("data:", "blob:")) or urlsplit(url).hostname == harness.LOOPBACK:
            route.continue_()
        else:
            seen.blocked.append(url)
            route.abort()

    context.route("**/*", guard)
    page.on("pageerror", lambda e: seen.page_errors.append(str(e)))
    page.on("console", lambda m: seen.console_errors.append(m.text) if m.type == "error" else None)
    started = time.monotonic()
    try:
        yield seen
    finally:
        seen.timings["test"] = round(time.monotonic() - started, 2)
        if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
            with contextlib.suppress(Exception):
                harness.screenshot(page, out / "failure.png")
        context.close()
        lab.shutdown_sessions()  # this test's kernels
        summary = {
            "timings_s": seen.timings,
            "page_errors": seen.page_errors,
            "console_errors": seen.console_errors,
            "blocked_requests": seen.blocked,
        }
        (out / "summary.json").write_text(json.dumps(summary, indent=2))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    report = yield
    setattr(item, f"rep_{report.when}", report)  # the ui fixture screenshots a failed test
    return report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _OUTPUT_DIRS:
        terminalreporter.write_line("browser test output (screenshots, summary.json):")
        for path in _OUTPUT_DIRS:
            terminalreporter.write_line(f"  {path}")
