"""The ``api`` fixture: a scripted fake API behind the session's transport."""

from __future__ import annotations

import httpx
import pytest

from evo_magic.runtime import root

from .helpers import FakeApi


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> FakeApi:
    monkeypatch.setenv("EVOLINK_API_KEY", "sk-session-test-0000")
    monkeypatch.setenv("EVOLINK_BASE_URL", "http://127.0.0.1:9")
    fake = FakeApi()
    root().transport_options = {"http_transport": httpx.MockTransport(fake)}
    return fake
