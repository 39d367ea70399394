"""Escapes in option values (``--prefix``, ``--stop``): ``\\n``, ``\\t``, ``\\\\``; the rest stays literal."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evo_magic.core.escapes import escape, unescape


@pytest.mark.parametrize(
    ("given_", "expected"),
    [
        ("```python\\n", "```python\n"),
        ("a\\tb", "a\tb"),
        ("back\\\\slash", "back\\slash"),
        ("\\\\n", "\\n"),  # an escaped backslash, then a plain n
        ("\\\\\\n", "\\\n"),  # an escaped backslash, then a newline
        ("C:\\path\\file", "C:\\path\\file"),  # unknown escapes stay as typed
        ("\\r\\x41\\u00e9\\'\\\"", "\\r\\x41\\u00e9\\'\\\""),
        ("ends with \\", "ends with \\"),  # a lone trailing backslash stays
        ("\\", "\\"),
        ("", ""),
        ("no escapes at all", "no escapes at all"),
        ("\\n\\n", "\n\n"),
        ("é\\n😀", "é\n😀"),
    ],
)
def test_the_rule(given_: str, expected: str) -> None:
    assert unescape(given_) == expected


@given(st.text())
def test_round_trip(text: str) -> None:
    assert unescape(escape(text)) == text


@given(st.text(alphabet=st.sampled_from("\\ntab x\n\t")))
def test_never_raises_and_never_grows(text: str) -> None:
    out = unescape(text)
    assert len(out) <= len(text)
    assert out.count("\\") <= text.count("\\")


@given(st.text().filter(lambda t: "\\" not in t))
def test_text_without_backslashes_is_unchanged(text: str) -> None:
    assert unescape(text) == text


@given(st.text())
def test_a_lone_trailing_backslash_stays(text: str) -> None:
    escaped = escape(text) + "\\"
    assert unescape(escaped) == text + "\\"


def test_escape_writes_only_the_three_escapes() -> None:
    assert escape("a\nb\tc\\d\re") == "a\\nb\\tc\\\\d\re"
