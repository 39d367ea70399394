"""Tests of ``evo_magic.core.messages``."""

from __future__ import annotations

import json

import pytest

from evo_magic.core.messages import Message
from evo_magic.core.snapshot import ThinkingBlock, ToolCall


def test_message_record_round_trip() -> None:
    m = Message(
        "assistant",
        "answer",
        reasoning="",
        thinking=(ThinkingBlock("hmm", "sig=="),),
        tool_calls=(ToolCall(0, "call_1", "f", '{"x": 1}'),),
        meta={"cell": 3, "response_id": "r1", "obj": object()},
    )
    back = Message.from_record(json.loads(json.dumps(m.to_record())))
    assert back == m and back.meta == {"cell": 3, "response_id": "r1"}
    assert back.to_openai() == m.to_openai() and back.reasoning == ""  # empty reasoning stays echoed
    tool = Message.tool_result("call_1", "42", "f")
    assert Message.from_record(tool.to_record()) == tool


@pytest.mark.parametrize("change", [
    {"role": "<b>evil"}, {"role": 5}, {"content": 5}, {"content": {"a": 1}}, {"reasoning": [1]},
    {"tool_calls": "abc"}, {"tool_calls": [1]}, {"tool_calls": [{"id": 5}]}, {"tool_calls": [{"index": "x"}]},
    {"thinking": [1]}, {"thinking": [{"text": 5}]}, {"thinking": "x"}, {"tool_call_id": 5}, {"name": []},
    {"meta": [1, 2]},
])  # fmt: skip
def test_a_record_of_the_wrong_shape_is_refused_not_kept_to_break_the_next_request(change: dict) -> None:
    """A record may come from a notebook file anyone wrote (``%deepseek restore``): a field of
    the wrong type would be sent with every later question of the session (a 400 each time)."""
    record = {**Message("assistant", "answer", tool_calls=(ToolCall(0, "c", "f", "{}"),)).to_record(), **change}
    with pytest.raises(ValueError, match="a kept message"):
        Message.from_record(record)
