"""An assistant prefix message (prefix continuation) in the request bodies of both protocols,
exactly as documented: DeepSeek's ``prefix: true`` on the last assistant message (OpenAI
protocol, with ``reasoning_content`` in thinking mode), a final assistant turn on Anthropic's."""

from __future__ import annotations

import json

import pytest

from evo_magic.core.messages import Message
from evo_magic.core.options import RequestOptions
from evo_magic.core.snapshot import ThinkingBlock, ToolCall
from evo_magic.errors import OptionError
from evo_magic.protocol import anthropic_messages as am
from evo_magic.protocol import openai_chat as oc

QUESTION = Message.user("Please write quick sort code")


def wire(body: dict) -> str:
    """The body as it goes on the wire (key order included)."""
    return json.dumps(body, ensure_ascii=False)


def test_openai_prefix_body_is_deepseeks_documented_example() -> None:
    """DeepSeek's chat prefix completion guide: the last message is the assistant's with
    ``"prefix": true``, and ``stop`` ends the answer at the closing fence."""
    opts = RequestOptions(model="deepseek-chat", stop=("```",), stream=False)
    body = oc.build_body([QUESTION, Message.assistant_prefix("```python\n")], opts)
    assert wire(body) == wire(
        {
            "model": "deepseek-chat",
            "messages": [
                {"role": "user", "content": "Please write quick sort code"},
                {"role": "assistant", "content": "```python\n", "prefix": True},
            ],
            "stop": ["```"],
            "stream": False,
        }
    )


def test_openai_prefix_in_thinking_mode_carries_reasoning_content() -> None:
    opts = RequestOptions(model="deepseek-v4-flash", thinking=True, max_tokens=4096)
    prefix = Message.assistant_prefix("", reasoning="The user wants quick sort. First the pivot")
    body = oc.build_body([QUESTION, prefix], opts)
    assert wire(body["messages"][-1]) == wire(
        {
            "role": "assistant",
            "content": "",
            "reasoning_content": "The user wants quick sort. First the pivot",
            "prefix": True,
        }
    )
    assert body["thinking"] == {"type": "enabled"}


def test_a_plain_assistant_message_has_no_prefix_key() -> None:
    body = oc.build_body([QUESTION, Message("assistant", "done"), Message.user("more")], RequestOptions())
    assert all("prefix" not in m for m in body["messages"])


def test_anthropic_prefix_is_a_final_assistant_turn_without_a_prefix_field() -> None:
    opts = RequestOptions(protocol="anthropic", model="deepseek-v4-flash", thinking=False, stop=("```",))
    body = am.build_body([QUESTION, Message.assistant_prefix("```python\n")], opts)
    assert body["messages"] == [
        {"role": "user", "content": "Please write quick sort code"},
        {"role": "assistant", "content": "```python\n"},
    ]
    assert "prefix" not in wire(body) and body["stop_sequences"] == ["```"]


def test_anthropic_prefix_with_reasoning_sends_the_thinking_block() -> None:
    prefix = Message.assistant_prefix("", reasoning="Partial thought", response_id="msg-1")
    body = am.build_body([QUESTION, prefix], RequestOptions(protocol="anthropic", thinking=True))
    assert body["messages"][-1] == {
        "role": "assistant",
        "content": [{"type": "thinking", "thinking": "Partial thought", "signature": "msg-1"}],
    }


def test_an_empty_prefix_is_no_turn_on_anthropic() -> None:
    body = am.build_body([QUESTION, Message.assistant_prefix("")], RequestOptions(protocol="anthropic"))
    assert body["messages"] == [{"role": "user", "content": "Please write quick sort code"}]


def test_an_answer_becomes_its_own_prefix() -> None:
    """``as_prefix`` keeps what the turn had (text, reasoning, signed thinking blocks)."""
    cut = Message(
        "assistant",
        "Quick sort picks a piv",
        reasoning="Think",
        thinking=(ThinkingBlock("Think", "sig-1"),),
        meta={"response_id": "r-1"},
    )
    prefix = cut.as_prefix()
    assert prefix.prefix and prefix.content == cut.content and prefix.thinking == cut.thinking
    assert oc.build_body([QUESTION, prefix], RequestOptions())["messages"][-1] == {
        "role": "assistant",
        "content": "Quick sort picks a piv",
        "reasoning_content": "Think",
        "prefix": True,
    }
    assert am.build_body([QUESTION, prefix], RequestOptions(protocol="anthropic"))["messages"][-1] == {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "Think", "signature": "sig-1"},
            {"type": "text", "text": "Quick sort picks a piv"},
        ],
    }
    with pytest.raises(ValueError, match="tool calls"):
        Message("assistant", "", tool_calls=(ToolCall(0, "c", "f", "{}"),)).as_prefix()


@pytest.mark.parametrize("codec", [oc, am])
def test_a_prefix_that_is_not_the_last_message_is_refused(codec) -> None:
    history = [QUESTION, Message.assistant_prefix("```python\n"), Message.user("and then?")]
    with pytest.raises(OptionError, match="last message"):
        codec.build_body(history, RequestOptions(protocol="anthropic" if codec is am else "openai"))


def test_prefix_survives_the_ledger_record() -> None:
    prefix = Message.assistant_prefix("```python\n", reasoning="r")
    assert Message.from_record(json.loads(json.dumps(prefix.to_record()))) == prefix
    assert "prefix" not in Message("assistant", "x").to_record()
