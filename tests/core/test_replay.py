"""The request key and kept answers (core/replay.py): what changes the key, what does not, and
that a kept answer folds back into the same snapshot."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from evo_magic.core.events import (
    Finished,
    LogprobsDelta,
    ReasoningDelta,
    ResponseStarted,
    TextDelta,
    ToolCallDelta,
    UsageReported,
)
from evo_magic.core.replay import answer_events, answer_from_record, answer_record, replayed, request_key
from evo_magic.core.snapshot import TurnSnapshot, accumulate
from evo_magic.core.usage import Usage

from ..conftest import recording

BODY: dict[str, Any] = json.loads(json.dumps(recording("v4_thinking_tool_loop_turn2_parallel")["request"]))
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a leaf of a JSON value."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in paths(v, (*prefix, k))] or [prefix]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in paths(v, (*prefix, i))] or [prefix]
    return [prefix]


def changed(body: dict[str, Any], path: tuple[Any, ...], new: Any) -> dict[str, Any]:
    out = copy.deepcopy(body)
    target = out
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new
    return out


KEY = request_key("openai", "/v1/chat/completions", BODY)


@given(st.sampled_from([p for p in paths(BODY) if p and p[0] not in ("stream", "stream_options")]), JSON)
def test_changing_any_field_of_the_request_is_another_key(path: tuple[Any, ...], new: Any) -> None:
    body = changed(BODY, path, new)
    if body != BODY:
        assert request_key("openai", "/v1/chat/completions", body) != KEY


@given(st.sampled_from([p for p in paths(BODY) if p and isinstance(p[-1], str)]), st.text(min_size=1, max_size=3))
def test_any_byte_of_any_string_is_another_key(path: tuple[Any, ...], extra: str) -> None:
    target: Any = BODY
    for step in path:
        target = target[step]
    if isinstance(target, str):
        assert request_key("openai", "/v1/chat/completions", changed(BODY, path, target + extra)) != KEY


def test_the_stream_flags_and_the_key_order_are_the_same_key_the_protocol_and_path_are_not() -> None:
    streamed = {**BODY, "stream": True, "stream_options": {"include_usage": True}}
    assert request_key("openai", "/v1/chat/completions", streamed) == KEY
    assert request_key("openai", "/v1/chat/completions", dict(reversed(list(BODY.items())))) == KEY
    assert request_key("anthropic", "/v1/chat/completions", BODY) != KEY
    assert request_key("openai", "/beta/chat/completions", BODY) != KEY


def snapshot() -> TurnSnapshot:
    return accumulate(
        [
            ResponseStarted("r1", "deepseek-v4-flash"),
            ReasoningDelta("Let me ", block=0),
            ReasoningDelta("think 😀.", block=0),
            ReasoningDelta("", "sig==", block=0),
            ReasoningDelta("Second block.", "sig2", block=2),
            TextDelta("The answer is **4**."),
            TextDelta("Other choice.", 1),
            ToolCallDelta(0, "call_1", "f", '{"x": '),
            ToolCallDelta(0, arguments="1}"),
            LogprobsDelta(({"token": "The", "logprob": -0.1},)),
            UsageReported(Usage(100, 64, 36, 20, 12)),
            Finished("stop"),
            Finished("length", 1),
        ]
    )


def test_a_kept_answer_folds_back_into_the_same_snapshot() -> None:
    snap = snapshot()
    back = replayed(answer_from_record(answer_record(snap)))
    for index in (0, 1):
        a, b = snap.choice(index), back.choice(index)
        assert (a.text, a.reasoning, a.finish_reason, a.logprobs) == (b.text, b.reasoning, b.finish_reason, b.logprobs)
        assert [(t.text, t.signature) for t in a.thinking_blocks] == [(t.text, t.signature) for t in b.thinking_blocks]
        assert [c.to_dict() for c in a.ordered_tool_calls()] == [c.to_dict() for c in b.ordered_tool_calls()]
    assert (back.id, back.model, back.usage) == (snap.id, snap.model, snap.usage)
    assert len(answer_events(snap)) < snap.events  # compact: one event per part, not per delta


@given(st.text(), st.text(), st.booleans())
def test_any_text_survives_keeping(text: str, reasoning: str, thinking: bool) -> None:
    events = [ResponseStarted(None, None), TextDelta(text), Finished("stop")]
    if thinking:
        events.insert(1, ReasoningDelta(reasoning))
    snap = accumulate(events)
    back = replayed(answer_from_record(answer_record(snap)))
    assert (back.text, back.reasoning, back.choice(0).has_reasoning) == (snap.text, snap.reasoning, thinking)
