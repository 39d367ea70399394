"""Provenance read back from a saved notebook's outputs (notebook/provenance.py): the same
turn and the same answer, the marks of undo / reset / pick, and what cannot be read."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import evo_magic
from evo_magic.core.replay import answer_from_record, answer_record, replayed
from evo_magic.notebook.provenance import Mark, Marked, Unreadable, read
from evo_magic.sessions.provenance import KEY, output_metadata

from ..profiles import examples
from ..sessions.test_provenance import ping


def test_it_reads_back_into_the_same_turn_and_answer(thinking_loop: Any) -> None:
    s = evo_magic.session()
    reply = s.ask("loop", tools=[ping], protocol="anthropic", thinking=True, cell=4, cell_id="c-4")
    back = read(json.loads(json.dumps(output_metadata(reply))))  # as a saved notebook keeps it
    assert back is not None and back.key == reply.request_key and back.complete and back.has_turn
    assert back.snapshot is not None and answer_record(back.snapshot) == answer_record(reply.snapshot)
    turn = back.turn()
    assert [m.to_record() for m in turn.messages] == [m.to_record() for m in s.turns[0].messages]
    assert (turn.prompt, turn.cell, turn.cell_id, turn.reply.text) == ("loop", 4, "c-4", reply.text)
    assert turn.reply.request_key == reply.request_key and turn.reply.cost == reply.cost


@pytest.mark.parametrize(
    ("metadata", "problem"),
    [
        ({KEY: {"request": "a" * 64, "schema": 99}}, "schema 99"),
        ({KEY: {"request": "a" * 64, "schema": 1, "answer": [{"t": "nonsense"}]}}, "events cannot be read"),
    ],
)
def test_provenance_it_cannot_read_says_why(metadata: dict[str, Any], problem: str) -> None:
    with pytest.raises(Unreadable, match=problem):
        read(metadata)


def test_outputs_that_are_no_answer_read_as_none() -> None:
    assert read({}) is None and read({"isolated": True}) is None and read({KEY: {"dropped": {}}}) is None
    bare = read({KEY: {"request": "a" * 64, "schema": 1, "status": "ok"}})
    assert bare is not None and not bare.complete
    with pytest.raises(Unreadable, match="no turn"):
        bare.turn()


def test_a_mark_is_the_notice_s_metadata_and_reads_back() -> None:
    from IPython.core.formatters import DisplayFormatter

    data, metadata = DisplayFormatter().format(Marked("Dropped the last turn.", "undo", "s", request="k" * 64))
    assert data["text/plain"] == "Dropped the last turn." and "text/html" in data
    mark = read(json.loads(json.dumps(metadata)))
    assert isinstance(mark, Mark) and (mark.kind, mark.session, mark.request) == ("undo", "s", "k" * 64)
    picked = read({KEY: {"mark": "pick", "session": "default", "choice": 2, "request": "r"}})
    assert isinstance(picked, Mark) and (picked.kind, picked.choice) == ("pick", 2)


# A notebook is a file anyone may have written: what its metadata says is untrusted.
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
_KINDS = st.sampled_from(["start", "text", "reasoning", "tool", "logprobs", "usage", "finish"])
_EVENT = st.fixed_dictionaries(
    {"t": _KINDS},
    optional={n: _JSON for n in ("id", "model", "text", "sig", "b", "c", "i", "name", "args", "content",
                                 "usage", "reason", "seq")},
)  # fmt: skip


@settings(max_examples=examples(300), deadline=None)
@given(answer=st.lists(_EVENT | _JSON, max_size=5), turn=_JSON, extra=st.dictionaries(
    st.sampled_from(["cost", "saved", "cached", "time", "answered_at", "cell", "status", "session", "protocol"]),
    _JSON))  # fmt: skip
def test_whatever_a_notebook_says_reads_back_or_is_unreadable_never_an_error(answer, turn, extra) -> None:
    """read() gives an answer whose turn, cost, time and rendering work, or raises Unreadable."""
    from evo_magic.display.render import Footer, render_reply_html, render_reply_text

    record = {"request": "a" * 64, "schema": 1, "status": "ok", **extra, "answer": answer, "turn": turn}
    try:
        back = read({KEY: record})
    except Unreadable:
        return
    assert back is not None and not isinstance(back, Mark)
    _ = (back.cost, back.at, back.complete, back.cell_id, back.session, back.time)
    if back.snapshot is not None:
        snap = back.snapshot
        footer = Footer(snap.model, snap.usage, 1.0, None, None)
        render_reply_html(snap, footer), render_reply_text(snap, footer)
        assert answer_record(replayed(answer_from_record(answer_record(snap)))) == answer_record(snap)
    with contextlib.suppress(Unreadable):
        back.turn()
