"""protocol/body.py: reading one streamed event's JSON (the hot path) as json.loads does."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evo_magic.protocol.body import loads_event

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)


@given(JSON)
def test_any_json_value_reads_back_as_json_loads_reads_it(value: object) -> None:
    text = json.dumps(value)
    assert loads_event(text) == json.loads(text)


@given(st.text(alphabet='{}[]":,0123456789.eE+-truefalsn \\\t\n', max_size=25))
def test_any_text_is_read_or_refused_exactly_as_json_loads_does(text: str) -> None:
    text = text.strip()
    try:
        want = json.loads(text)
    except ValueError:
        with pytest.raises(ValueError):
            loads_event(text)
        return
    assert loads_event(text) == want


def test_data_after_the_value_is_refused() -> None:
    with pytest.raises(ValueError, match="extra data"):
        loads_event('{"a": 1}{"b": 2}')
