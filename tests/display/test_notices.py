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


def test_a_notice_as_text_shows_control_characters_instead_of_obeying_them() -> None:
    """A notice names notebook files and sessions (anyone's names): an ESC in one must not clear
    or recolour the terminal."""
    notice = Notice("evil\x1b[2J\x07.ipynb: no answer from the cache yet", "info", "Cache\x1b[31m")
    assert "\x1b" not in repr(notice) and "\x07" not in repr(notice)
    assert repr(notice) == "Cache\\x1b[31m: evil\\x1b[2J\\x07.ipynb: no answer from the cache yet"
    assert repr(Notice("two\n\tlines", pre=True)) == "two\n\tlines"  # line breaks and tabs stay
