"""Shells for the notebook tests: ``shell`` (no network: a request fails the test) and ``answering`` (a scripted answer; keeps the request bodies)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from IPython.core.interactiveshell import InteractiveShell

from evo_magic.runtime import root

from ..conftest import use_emulator
from ..sessions.helpers import Recording
from ..streams import sse_answer


@pytest.fixture
def shell(monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    ip = InteractiveShell.instance()
    ip.extension_manager.load_extension("evo_magic")
    ip.run_line_magic("config", "DeepSeekMagics.live = 'none'")
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(500, json={"error": {"message": "no network in this test"}})

    root().transport_options = {"http_transport": httpx.MockTransport(handler)}
    ip.requests = requests  # type: ignore[attr-defined]
    yield ip
    ip.extension_manager.unload_extension("evo_magic")
    assert requests == [], "misuse must not reach the network"


@pytest.fixture
def answering(shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    import json as _json

    monkeypatch.setenv("EVOLINK_API_KEY", "sk-magic-test-1111")
    monkeypatch.setenv("EVOLINK_BASE_URL", "http://127.0.0.1:9")
    bodies: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(_json.loads(request.content))
        return httpx.Response(200, headers={"content-type": "text/event-stream"},
                              content=sse_answer("Cause: x is a string.\n\n```python\nx = 1\nprint(x + 1)\n```\n"))

    root().transport_options = {"http_transport": httpx.MockTransport(handler)}
    yield bodies
    shell.requests.clear()  # type: ignore[attr-defined]


@pytest.fixture
def wired(emulator: Any, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A shell on the emulator (no live view: each answer is displayed once, as a cell keeps it);
    ``ip.wire`` records each request's path and body."""
    use_emulator(monkeypatch, emulator.url, "/work/prefix-cells.ipynb", f"sk-{request.node.name[:40]}-cell")
    ip = InteractiveShell.instance()
    ip.extension_manager.load_extension("evo_magic")
    ip.run_line_magic("config", "DeepSeekMagics.live = 'none'")
    ip.wire = Recording()  # type: ignore[attr-defined]
    root().transport_options = {"http_transport": ip.wire}  # type: ignore[attr-defined]
    yield ip
    ip.extension_manager.unload_extension("evo_magic")
