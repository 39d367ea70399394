"""Anthropic Messages codec: event sequence, non-streamed body, history conversion (pure)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from evo_magic import errors
from evo_magic.core.events import (
    StreamFailed,
)
from evo_magic.core.messages import Message
from evo_magic.core.options import RequestOptions
from evo_magic.core.snapshot import ToolCall, TurnSnapshot, accumulate
from evo_magic.protocol import anthropic_messages as am
from evo_magic.protocol import openai_chat as oc

from ..streams import Turn, payloads

MSG_ID = "53ee6690-1c2b-4d3e-9f00-aa11bb22cc33"

STREAM = [
    {
        "type": "message_start",
        "message": {
            "id": MSG_ID,
            "type": "message",
            "role": "assistant",
            "model": "deepseek-v4-flash",
            "content": [],
            "usage": {
                "input_tokens": 20,
                "cache_read_input_tokens": 128,
                "cache_creation_input_tokens": 0,
                "output_tokens": 1,
            },
        },
    },
    {"type": "ping"},
    {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "thinking", "thinking": ""},
    },
    {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "thinking_delta", "thinking": "Let me "},
    },
    {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "thinking_delta", "thinking": "think."},
    },
    {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "signature_delta", "signature": MSG_ID},
    },
    {"type": "content_block_stop", "index": 0},
    {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
    {
        "type": "content_block_delta",
        "index": 1,
        "delta": {"type": "text_delta", "text": "Checking "},
    },
    {
        "type": "content_block_delta",
        "index": 1,
        "delta": {"type": "text_delta", "text": "weather."},
    },
    {"type": "content_block_stop", "index": 1},
    {
        "type": "content_block_start",
        "index": 2,
        "content_block": {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {}},
    },
    {
        "type": "content_block_delta",
        "index": 2,
        "delta": {"type": "input_json_delta", "partial_json": '{"city": '},
    },
    {
        "type": "content_block_delta",
        "index": 2,
        "delta": {"type": "input_json_delta", "partial_json": '"Paris"}'},
    },
    {"type": "content_block_stop", "index": 2},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {"output_tokens": 42},
    },
    {"type": "message_stop"},
]


def run(events: list[dict]) -> TurnSnapshot:
    parser = am.StreamParser()
    snap = TurnSnapshot()
    for e in events:
        for ev in parser.feed(json.dumps(e)):
            snap.apply(ev)
    return snap


def test_full_event_sequence() -> None:
    snap = run(STREAM)
    assert snap.id == MSG_ID and snap.model == "deepseek-v4-flash"
    assert snap.reasoning == "Let me think." and snap.text == "Checking weather."
    (block,) = snap.choice(0).thinking_blocks
    assert block.signature == MSG_ID
    (call,) = snap.tool_calls
    assert (call.id, call.name, json.loads(call.arguments)) == (
        "toolu_1",
        "weather",
        {"city": "Paris"},
    )
    assert snap.finish_reason == "tool_calls"
    assert snap.usage is not None
    assert (
        snap.usage.prompt_tokens,
        snap.usage.cache_hit_tokens,
        snap.usage.cache_miss_tokens,
    ) == (148, 128, 20)
    assert snap.usage.completion_tokens == 42


def test_signature_only_thinking_block_is_kept() -> None:
    events = [
        STREAM[0],
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "thinking", "thinking": ""},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "signature_delta", "signature": "sig-1"},
        },
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 1},
        },
    ]
    snap = run(events)
    msg = Message.from_snapshot(snap)
    assert msg.thinking[0].text == "" and msg.thinking[0].signature == "sig-1"
    _, turns = am.to_anthropic([Message.user("q"), msg])
    assert turns[1]["content"][0] == {"type": "thinking", "thinking": "", "signature": "sig-1"}


def test_error_event_mid_stream() -> None:
    snap = run(
        [
            STREAM[0],
            STREAM[7],
            STREAM[8],
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
        ]
    )
    assert snap.text == "Checking " and isinstance(snap.error, errors.ServerError)
    assert not snap.complete


def test_stop_reasons_map_to_openai_names() -> None:
    for wire, ours in [
        ("end_turn", "stop"),
        ("max_tokens", "length"),
        ("stop_sequence", "stop"),
        ("tool_use", "tool_calls"),
    ]:
        snap = run(
            [
                STREAM[0],
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": wire},
                    "usage": {"output_tokens": 3},
                },
            ]
        )
        assert snap.finish_reason == ours


def test_malformed_event() -> None:
    (ev,) = am.StreamParser().feed("{oops")
    assert isinstance(ev, StreamFailed) and isinstance(ev.error, errors.ProtocolError)


def test_nonstreamed_response_like_evolink_example() -> None:
    body = {
        "id": MSG_ID,
        "type": "message",
        "role": "assistant",
        "model": "deepseek-v4-flash",
        "content": [
            {"type": "thinking", "thinking": "Tokyo is the capital.", "signature": MSG_ID},
            {"type": "text", "text": "The capital of Japan is **Tokyo**."},
        ],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 7,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": 77,
            "service_tier": "standard",
        },
    }
    snap = accumulate(am.parse_response(json.dumps(body)))
    assert snap.text.endswith("**Tokyo**.") and snap.reasoning == "Tokyo is the capital."
    assert (
        snap.finish_reason == "stop"
        and snap.usage is not None
        and snap.usage.completion_tokens == 77
    )
    err = accumulate(
        am.parse_response(
            {"type": "error", "error": {"type": "authentication_error", "message": "bad key"}}
        )
    )
    assert isinstance(err.error, errors.AuthenticationError)


def test_request_body_shape() -> None:
    history = [Message.system("Be brief."), Message.user("weather in Paris?")]
    opts = RequestOptions(
        protocol="anthropic",
        reasoning_effort="max",
        stop=("END",),
        temperature=0.3,
        tools=(
            {
                "type": "function",
                "function": {
                    "name": "weather",
                    "description": "Get weather",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                },
            },
        ),
        tool_choice="auto",
    )
    body = am.build_body(history, opts)
    assert body["system"] == "Be brief." and body["max_tokens"] == am.DEFAULT_MAX_TOKENS
    assert body["messages"] == [{"role": "user", "content": "weather in Paris?"}]
    assert body["thinking"] == {"type": "enabled"} and body["output_config"] == {"effort": "max"}
    assert body["tools"][0] == {
        "name": "weather",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
        "description": "Get weather",
    }
    assert body["tool_choice"] == {"type": "auto"} and body["stop_sequences"] == ["END"]
    forced = am.build_body(
        history,
        RequestOptions(
            thinking=False, tool_choice={"type": "function", "function": {"name": "weather"}}
        ),
    )
    assert forced["tool_choice"] == {"type": "tool", "name": "weather"} and forced["thinking"] == {
        "type": "disabled"
    }


def test_history_converts_both_ways() -> None:
    """A tool-using turn from the Anthropic stream goes to the OpenAI protocol and back."""
    snap = run(STREAM)
    assistant = Message.from_snapshot(snap)
    history = [
        Message.user("weather?"),
        assistant,
        Message.tool_result("toolu_1", '{"temp": 21}', "weather"),
    ]
    openai = oc.build_body(history, RequestOptions())["messages"]
    assert openai[1]["reasoning_content"] == "Let me think."
    assert openai[1]["tool_calls"][0]["function"] == {
        "name": "weather",
        "arguments": '{"city": "Paris"}',
    }
    assert openai[2] == {"role": "tool", "content": '{"temp": 21}', "tool_call_id": "toolu_1"}
    _, turns = am.to_anthropic(history)
    assert turns[1]["content"][0] == {
        "type": "thinking",
        "thinking": "Let me think.",
        "signature": MSG_ID,
    }
    assert turns[1]["content"][2] == {
        "type": "tool_use",
        "id": "toolu_1",
        "name": "weather",
        "input": {"city": "Paris"},
    }
    assert turns[2] == {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": '{"temp": 21}'}],
    }


def test_openai_turn_gets_the_response_id_as_signature() -> None:
    snap = accumulate(
        oc.parse_response(
            {
                "id": "resp-uuid",
                "model": "deepseek-v4-flash",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "hi", "reasoning_content": "r"},
                        "finish_reason": "stop",
                    }
                ],
            }
        )
    )
    _, turns = am.to_anthropic([Message.user("q"), Message.from_snapshot(snap)])
    assert turns[1]["content"] == [
        {"type": "thinking", "thinking": "r", "signature": "resp-uuid"},
        {"type": "text", "text": "hi"},
    ]


def test_tool_call_dataclass_roundtrip() -> None:
    call = ToolCall(0, "c", "f", "not json")
    _, turns = am.to_anthropic([Message("assistant", "", tool_calls=(call,), reasoning="")])
    assert turns[0]["content"][-1]["input"] == {"_raw_arguments": "not json"}


@pytest.mark.parametrize("noise", [{"type": "ping", "error": None}, {"type": "future_event", "error": None},
                                   {"type": "content_block_stop", "index": 0, "error": None}])
def test_an_anthropic_event_with_a_null_error_is_no_error(noise: dict[str, Any]) -> None:
    items = payloads("anthropic", Turn(text=["Hello ", "there"], reasoning=["hm"]))
    for at in (1, 4, len(items) - 1):
        items.insert(at, noise)
    parser = am.StreamParser()
    snap = accumulate(e for item in items for e in parser.feed(json.dumps(item)))
    assert snap.error is None and snap.complete and snap.text == "Hello there"


def test_an_anthropic_error_that_is_not_null_still_ends_the_stream() -> None:
    parser = am.StreamParser()
    (failed,) = parser.feed(json.dumps({"type": "ping", "error": {"type": "overloaded_error", "message": "busy"}}))
    assert isinstance(failed.error, errors.ServerError) and "busy" in str(failed.error)  # type: ignore[union-attr]
    (failed,) = parser.feed(json.dumps({"type": "error", "error": None}))  # an error event, even without detail
    assert isinstance(failed.error, errors.ApiError)  # type: ignore[union-attr]
