"""The slow markers, enforced: a helper that starts a real kernel or a browser asks
:func:`require` first, which fails the running test unless it carries the marker (test helper).

tests/conftest.py marks every test under tests/kernel/ and tests/browser/ and tells this module
which test is running (setup, call and teardown: fixtures of any scope start inside a test)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

SLOW = ("kernel", "browser")
_running: list[pytest.Item] = []


@contextmanager
def running(item: pytest.Item) -> Iterator[None]:
    _running.append(item)
    try:
        yield
    finally:
        _running.pop()


def require(marker: str, what: str) -> None:
    """Fail unless the running test is marked ``marker`` (outside pytest, e.g. the benchmarks,
    there is no running test and anything goes)."""
    if not _running:
        return
    item = _running[-1]
    assert item.get_closest_marker(marker) is not None, (
        f"{item.nodeid} {what} but is not marked {marker!r}: move it to tests/{marker}/ "
        f"(the quick loop, -m \"not kernel and not browser\", must never {what.replace('starts', 'start')})"
    )
