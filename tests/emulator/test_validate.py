"""Tests of ``evo_magic.emulator.validate``."""

from __future__ import annotations

import pytest

from evo_magic.emulator import validate

from .helpers import WEATHER


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"model": "gpt-4"}, "Model Not Exist"),
        ({"model": None}, "`model`"),
        ({"model": 3}, "model: invalid type"),
        ({"messages": None}, "`messages`"),
        ({"messages": "hi"}, "messages: invalid type"),
        ({"messages": []}, "messages"),
        ({"messages": ["hi"]}, "messages[0]: invalid type"),
        ({"messages": [{"content": "x"}]}, "missing field `role`"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role: unknown variant `robot`"),
        ({"messages": [{"role": "user"}]}, "missing field `content`"),
        ({"messages": [{"role": "user", "content": 5}]}, "content: invalid type"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "tool_call_id"),
        ({"messages": [{"role": "assistant"}]}, "missing field `content`"),
        ({"temperature": 2.5}, "temperature"),
        ({"temperature": "hot"}, "temperature: invalid type"),
        ({"top_p": -0.1}, "top_p"),
        ({"frequency_penalty": -2.1}, "frequency_penalty"),
        ({"presence_penalty": 3}, "presence_penalty"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": 384001}, "max_tokens"),
        ({"max_tokens": 1.5}, "max_tokens: invalid type"),
        ({"stop": ["x"] * 17}, "stop"),
        ({"stop": 3}, "stop: invalid type"),
        ({"n": 9}, "n value"),
        ({"n": 0}, "n value"),
        ({"top_logprobs": 21, "logprobs": True}, "top_logprobs"),
        ({"top_logprobs": 3}, "logprobs must be true"),
        ({"logit_bias": {"12": 200}}, "logit_bias"),
        ({"logit_bias": [1]}, "logit_bias: invalid type"),
        ({"tools": [WEATHER] * 129}, "tools"),
        ({"tools": [{"type": "function"}]}, "tools[0]"),
        ({"stream_options": {"include_usage": True}}, "stream = true"),
        ({"stream": True, "stream_options": "yes"}, "stream_options: invalid type"),
        ({"thinking": {"type": "sometimes"}}, "thinking.type"),
        ({"response_format": {"type": "xml"}}, "response_format"),
        ({"model": "deepseek-reasoner", "temperature": 1}, "temperature"),
        ({"model": "deepseek-reasoner", "top_p": 1}, "top_p"),
        ({"model": "deepseek-reasoner", "tools": [WEATHER]}, "tools"),
        ({"model": "deepseek-reasoner", "tool_choice": "auto"}, "tool_choice"),
        ({"model": "deepseek-reasoner", "response_format": {"type": "json_object"}}, "response_format"),
        ({"tools": [WEATHER], "tool_choice": "required"}, "thinking mode"),
        ({"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "weather"}}}, "thinking"),
    ],
)
def test_each_validation_rule(change: dict, fragment: str) -> None:
    body = {"model": "deepseek-v4-flash", "messages": [{"role": "user", "content": "hi"}], **change}
    body = {k: v for k, v in body.items() if v is not None}
    problem = validate.check_chat(body)
    assert problem is not None and fragment in problem


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"model": "deepseek-chat", "temperature": 0, "top_p": 1, "tools": [WEATHER], "tool_choice": "required"},
        {"thinking": {"type": "disabled"}, "tools": [WEATHER], "tool_choice": {"function": {"name": "weather"}}},
        {"max_tokens": 384000, "stop": "x", "n": 8, "logprobs": True, "top_logprobs": 20, "logit_bias": {"1": -100}},
        {"stream": True, "stream_options": {"include_usage": True}, "response_format": {"type": "json_object"}},
        {
            "messages": [
                {"role": "developer", "content": "d"},
                {"role": "user", "content": [{"type": "text", "text": "u"}]},
            ]
        },
        {"messages": [{"role": "assistant", "content": None, "reasoning_content": "", "tool_calls": []}]},
    ],
)
def test_valid_bodies_pass(change: dict) -> None:
    assert (
        validate.check_chat({"model": "deepseek-v4-pro", "messages": [{"role": "user", "content": "hi"}], **change})
        is None
    )


def test_thinking_defaults() -> None:
    on = validate.thinking_on
    assert on({"model": "deepseek-v4-flash"}) and on({"model": "deepseek-v4-pro", "thinking": {"type": "enabled"}})
    assert not on({"model": "deepseek-v4-pro", "thinking": {"type": "disabled"}})
    assert on({"model": "deepseek-reasoner", "thinking": {"type": "disabled"}})
    assert not on({"model": "deepseek-chat", "thinking": {"type": "enabled"}})
