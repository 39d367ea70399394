"""Shared fixtures. The network beyond loopback is never touched; EVOLINK_* is cleared; the
user's real home is never touched (tests/home_guard.py: the run fails if it changed)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from . import (
    markers,
    profiles,  # noqa: F401 - loads the Hypothesis profile before any test module
)
from .home_guard import pytest_configure, pytest_sessionfinish  # noqa: F401 - hooks
from .keys import ODD_KEY

pytest_plugins = ("tests.quick",)  # the quick loop on every core (tests/quick.py)

TESTS = Path(__file__).parent
FIXTURES = TESTS / "fixtures"
RECORDED = FIXTURES / "recorded"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("EVOLINK_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("EVO_MAGIC_HOME", str(tmp_path / "evo_home"))
    monkeypatch.chdir(tmp_path)
    from evo_magic.runtime import reset_root

    reset_root()  # each test: its own kernel root (sessions, ledger, budget, offline routing, panels)
    yield
    reset_root()


def recording(name: str) -> dict:
    """Files of one recorded interaction: request, response (bytes), meta."""
    out: dict = {"meta": json.loads((RECORDED / f"{name}.meta.json").read_text())}
    req = RECORDED / f"{name}.request.json"
    out["request"] = json.loads(req.read_text()) if req.exists() else None
    for suffix in ("response.sse", "response.json"):
        path = RECORDED / f"{name}.{suffix}"
        if path.exists():
            out["response"] = path.read_bytes()
            out["streamed"] = suffix.endswith("sse")
    return out


def recording_names() -> list[str]:
    return sorted(p.name[: -len(".meta.json")] for p in RECORDED.glob("*.meta.json"))


@pytest.fixture(scope="session")
def emulator() -> Iterator[object]:
    """One unthrottled emulator on loopback for the whole test session."""
    from evo_magic.emulator import Emulator

    with Emulator(tokens_per_second=None) as emu:
        yield emu


def use_emulator(monkeypatch: pytest.MonkeyPatch, url: str, notebook: str, key: str = "sk-test-key-0000") -> None:
    """Point this process at an emulator with a key, as notebook ``notebook``."""
    from evo_magic.runtime import root

    monkeypatch.setenv("EVOLINK_API_KEY", key)
    monkeypatch.setenv("EVOLINK_BASE_URL", url)
    monkeypatch.setenv("JPY_SESSION_NAME", notebook)
    root().offline = None


def use_offline(monkeypatch: pytest.MonkeyPatch, emulator: object, notebook: str) -> None:
    """``%deepseek offline`` in this process, answered by ``emulator`` (no key), as notebook ``notebook``."""
    from evo_magic.notebook import offline
    from evo_magic.runtime import root

    monkeypatch.setenv("JPY_SESSION_NAME", notebook)
    root().part(offline.Offline).adopt(emulator)  # go_offline starts none of its own
    offline.go_offline(root(), rate=None)  # and keeps the shared emulator unthrottled (a rate would pace it)


@pytest.fixture
def answering_shell(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """An in-process IPython shell with evo_magic loaded (live view off) and a key, whose
    requests are answered "ok" by an ``httpx.MockTransport``; ``shell.bodies`` holds each
    request body sent."""
    import httpx
    from IPython.core.interactiveshell import InteractiveShell

    from evo_magic.runtime import root

    from .streams import sse_answer

    monkeypatch.setenv("EVOLINK_API_KEY", "sk-answering-shell-2222")
    monkeypatch.setenv("EVOLINK_BASE_URL", "http://127.0.0.1:9")
    ip = InteractiveShell.instance()
    ip.extension_manager.load_extension("evo_magic")
    ip.run_line_magic("config", "DeepSeekMagics.live = 'none'")
    bodies: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=sse_answer("ok"))

    root().transport_options = {"http_transport": httpx.MockTransport(handler)}
    ip.bodies = bodies  # type: ignore[attr-defined]
    yield ip
    ip.extension_manager.unload_extension("evo_magic")


def run_async(coro: Any) -> Any:
    """``asyncio.run(coro)`` in a fresh thread: Playwright's sync API (the browser tests) leaves
    an event loop running in the main thread, where ``asyncio.run`` refuses to start."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@pytest.fixture
def odd_key_online(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """On the shared emulator with ODD_KEY (a key not shaped like sk-…), with this test's ledger."""
    from evo_magic.config import Secret
    from evo_magic.runtime import root

    use_emulator(monkeypatch, emulator.url, "/work/secrets.ipynb", ODD_KEY)
    # The key has been read once (as tests/test_errors.py's first test did when the tests using
    # this fixture shared its module). Without it, the first request of a process stores a
    # prompt holding the key unmasked (reported with the test-layout change, issue 12).
    Secret(ODD_KEY)
    acc = root().accounting
    yield acc
    acc.close()


# --- the slow markers: a test that starts a kernel or a browser lives in tests/kernel/ or
# tests/browser/ and carries the marker; the quick loop (-m "not kernel and not browser")
# can therefore never start one.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for marker in markers.SLOW:
            if TESTS / marker in item.path.parents:
                item.add_marker(marker)
            elif item.get_closest_marker(marker) is not None:
                raise pytest.UsageError(f"{item.nodeid} is marked {marker}: move it to tests/{marker}/")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    with markers.running(item):
        return (yield)


@pytest.fixture
def thinking_loop(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """An Anthropic-protocol API that thinks (signed), calls ``ping`` once, then answers."""
    from evo_magic.runtime import root

    from .streams import Turn, payloads, serve, sse

    monkeypatch.setenv("EVOLINK_API_KEY", "sk-provenance-4444")
    monkeypatch.setenv("EVOLINK_BASE_URL", "http://127.0.0.1:9")
    bodies: list[dict[str, Any]] = []

    def answer(body: dict[str, Any]) -> list[bytes]:
        bodies.append(body)
        if len(bodies) % 2:
            turn = Turn(calls=[("toolu_1", "ping", ['{"n": 1}'])], reasoning=["I should ", "ping."])
        else:
            turn = Turn(text=["All ", "done."], reasoning=["It answered."])
        return [sse("anthropic", payloads("anthropic", turn))]

    root().transport_options = {"http_transport": serve(answer)}
    return bodies
