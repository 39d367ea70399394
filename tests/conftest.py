"""Shared fixtures. The network beyond loopback is never touched; EVOLINK_* is cleared."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
RECORDED = FIXTURES / "recorded"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("EVOLINK_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("EVO_MAGIC_HOME", str(tmp_path / "evo_home"))
    monkeypatch.chdir(tmp_path)
    import evo_magic.accounting as accounting
    import evo_magic.registry as session
    from evo_magic import config

    config.set_offline(None)
    previous, previous_accounting = session._registry, accounting._current
    session._registry = accounting._current = None  # each test: its own registry, ledger, budget
    yield
    if session._registry is not None:
        session._registry.close()
    if accounting._current is not None and accounting._current is not previous_accounting:
        accounting._current.close()
    session._registry, accounting._current = previous, previous_accounting
    config.set_offline(None)


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
    from evo_magic import config

    monkeypatch.setenv("EVOLINK_API_KEY", key)
    monkeypatch.setenv("EVOLINK_BASE_URL", url)
    monkeypatch.setenv("JPY_SESSION_NAME", notebook)
    config.set_offline(None)


def use_offline(monkeypatch: pytest.MonkeyPatch, emulator: object, notebook: str) -> None:
    """``%deepseek offline`` in this process, answered by ``emulator`` (no key), as notebook ``notebook``."""
    from evo_magic import offline

    monkeypatch.setenv("JPY_SESSION_NAME", notebook)
    monkeypatch.setattr(offline, "_emulator", emulator)  # go_offline starts none of its own
    offline.go_offline(rate=None)  # and keeps the shared emulator unthrottled (a rate would pace it)


def run_async(coro: Any) -> Any:
    """``asyncio.run(coro)`` in a fresh thread: Playwright's sync API (the browser tests) leaves
    an event loop running in the main thread, where ``asyncio.run`` refuses to start."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()
