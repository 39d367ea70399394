"""Tests of ``evo_magic.emulator.encode``."""

from __future__ import annotations

from evo_magic.emulator.answers import Plan
from evo_magic.emulator.encode import cut


def test_cut_to_max_tokens_and_stop() -> None:
    p = Plan("one two three four", reasoning="a b c")
    assert cut(p, 2, []).content == [] and cut(p, 2, []).finish_reason == "length"
    r = cut(p, 5, [])
    assert r.content == ["one", " two"] and r.finish_reason == "length" and r.completion_tokens == 5
    s = cut(p, None, [" three"])
    assert "".join(s.content) == "one two" and s.finish_reason == "stop"
