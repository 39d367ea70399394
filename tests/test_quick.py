"""The quick loop runs on every core; the whole suite in one process (tests/quick.py)."""

from __future__ import annotations

import pytest

from .quick import quick_loop


@pytest.mark.parametrize(
    ("markexpr", "quick"),
    [
        ("not kernel and not browser", True),
        ("not browser and not kernel", True),
        ("not  kernel and not browser and not slow", True),
        ("", False),
        ("kernel", False),
        ("not browser", False),
        ("browser", False),
    ],
)
def test_only_the_quick_loop_is_spread_over_workers(markexpr: str, quick: bool) -> None:
    assert quick_loop(markexpr) is quick
