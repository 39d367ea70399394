"""Tests of ``evo_magic.display.notices``."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import pytest

from evo_magic.display.notices import Notice, Table, ToolResult

from .helpers import DOLLARS, assert_skipped_by_mathjax

MATH_OUTPUTS: dict[str, Callable[[], str]] = {
    "notice": lambda: Notice(DOLLARS, title="$1")._repr_html_(),
    "table": lambda: Table("$ table", ["$a"], [[DOLLARS]], note="$ note")._repr_html_(),
    "tool result": lambda: ToolResult(SimpleNamespace(name="f", arguments='{"$": 1}'), DOLLARS, True)._repr_html_(),
}


@pytest.mark.parametrize("name", list(MATH_OUTPUTS))
def test_every_html_output_is_skipped_by_mathjax(name: str) -> None:
    assert_skipped_by_mathjax(name, MATH_OUTPUTS[name]())
