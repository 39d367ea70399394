"""One unthrottled emulator per module, an HTTP client and fresh keys, for the emulator's tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from evo_magic.emulator import Emulator


def key(kind: str = "beta") -> dict[str, str]:
    """A fresh API key: its own prefix cache and reasoning memory."""
    return {"Authorization": f"Bearer sk-{kind}-{uuid.uuid4().hex[:8]}"}


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator() as e:
        yield e


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as c:
        yield c
