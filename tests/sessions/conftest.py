"""The ``api`` fixture: a scripted fake API behind the session's transport; ``wire``: the
bundled emulator behind a transport that records what is sent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from evo_magic.runtime import root

from ..conftest import use_emulator
from .helpers import FakeApi, Recording


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> FakeApi:
    monkeypatch.setenv("EVOLINK_API_KEY", "sk-session-test-0000")
    monkeypatch.setenv("EVOLINK_BASE_URL", "http://127.0.0.1:9")
    fake = FakeApi()
    root().transport_options = {"http_transport": httpx.MockTransport(fake)}
    return fake


@pytest.fixture
def wire(emulator: Any, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[Recording]:
    """The shared emulator (a key of this test's own, so its echo rule starts afresh), reached
    through a transport that keeps each request's path and body (``wire.sent``)."""
    use_emulator(monkeypatch, emulator.url, "/work/prefix.ipynb", f"sk-{request.node.name[:40]}-wire")
    recording = Recording()
    root().transport_options = {"http_transport": recording}
    yield recording
    recording.close()
