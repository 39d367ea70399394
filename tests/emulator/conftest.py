"""One unthrottled emulator per module, and an HTTP client, for the emulator's tests."""

from __future__ import annotations

import httpx
import pytest

from evo_magic.emulator import Emulator


@pytest.fixture(scope="module")
def emu():
    with Emulator() as e:
        yield e


@pytest.fixture
def client():
    with httpx.Client(timeout=30) as c:
        yield c
