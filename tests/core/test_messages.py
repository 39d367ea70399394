"""Tests of ``evo_magic.core.messages``."""

from __future__ import annotations

import json

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
