"""The OpenAI Chat Completions codec against every real recording (pure + httpx-sse framing)."""

from __future__ import annotations

import json
import random

import httpx
import pytest
from httpx_sse import EventSource

from evo_magic import errors
from evo_magic.core.events import Finished, ReasoningDelta, ResponseStarted, StreamFailed, TextDelta
from evo_magic.core.messages import Message
from evo_magic.core.options import RequestOptions
from evo_magic.core.snapshot import TurnSnapshot, accumulate
from evo_magic.protocol.openai_chat import StreamParser, build_body, parse_response

from ..conftest import recording, recording_names
from ..streams import cut

STREAMS = [n for n in recording_names() if recording(n).get("streamed")]
BODIES = [n for n in recording_names() if not recording(n).get("streamed")]


def frame(pieces: list[bytes]) -> list[str]:
    """SSE data payloads exactly as the transport frames them (httpx + httpx-sse)."""
    response = httpx.Response(
        200, headers={"content-type": "text/event-stream; charset=utf-8"}, content=iter(pieces)
    )
    return [sse.data for sse in EventSource(response).iter_sse()]


def summary(snap: TurnSnapshot) -> tuple:
    return (
        snap.text,
        snap.reasoning,
        [c.to_dict() for c in snap.tool_calls],
        snap.usage,
        snap.finish_reason,
        snap.model,
        snap.id,
    )


def parse_all(payloads: list[str]) -> TurnSnapshot:
    parser = StreamParser()
    snap = TurnSnapshot()
    for data in payloads:
        for event in parser.feed(data):
            snap.apply(event)
    return snap


EXPECTED = {
    "stream_basic_nonthinking": ("text", 0, 0, "stop"),
    "stream_basic_no_stream_options": ("text", 0, 0, "stop"),
    "stream_thinking_reasoner": ("text", 1, 0, "stop"),
    "stream_tool_call": ("", 0, 1, "tool_calls"),
    "stream_tool_call_with_text_no_stream_options": ("text", 0, 1, "tool_calls"),
}


@pytest.mark.parametrize("name", STREAMS)
def test_stream_recording_whole(name: str) -> None:
    rec = recording(name)
    snap = parse_all(frame([rec["response"]]))
    want_text, want_reasoning, want_calls, want_reason = EXPECTED[name]
    assert bool(snap.text) == (want_text == "text")
    assert bool(snap.reasoning) == bool(want_reasoning)
    assert len(snap.tool_calls) == want_calls
    assert snap.finish_reason == want_reason
    assert snap.usage is not None and snap.usage.prompt_tokens > 0
    assert snap.usage.prompt_tokens == snap.usage.cache_hit_tokens + snap.usage.cache_miss_tokens
    assert snap.complete
    for call in snap.tool_calls:
        assert call.id.startswith("call_") and call.name
        json.loads(call.arguments)  # fragments assemble into valid JSON


def test_usage_figures_from_recordings() -> None:
    thinking = parse_all(frame([recording("stream_thinking_reasoner")["response"]]))
    assert thinking.usage is not None
    assert (thinking.usage.completion_tokens, thinking.usage.reasoning_tokens) == (212, 198)
    cached = parse_all(
        frame([recording("stream_tool_call_with_text_no_stream_options")["response"]])
    )
    assert cached.usage is not None
    assert (cached.usage.cache_hit_tokens, cached.usage.cache_miss_tokens) == (128, 33)
    assert thinking.text == "Hello there! 😊 How can I help you today?"


def utf8_width(lead: int) -> int:
    """Bytes of the UTF-8 character that starts with byte ``lead`` (1 for ASCII)."""
    return 1 if lead < 0xC0 else 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4


def split_points(raw: bytes, sample: int = 64, seed: int = 20260610) -> dict[str, list[int]]:
    """Every offset where splitting a stream's bytes can matter, by class: before and after each
    CR and LF (so inside a CRLF and around every blank line), before each byte of every multi-byte
    UTF-8 character and after its last, every offset inside each line's field name (``data:``,
    ``event:``, a ``:`` comment) up to after the space that follows it, and a seeded random
    sample of all the others (inside the JSON)."""
    n = len(raw)
    ends = [i for i, b in enumerate(raw) if b in b"\r\n"]
    lines = {k for i in ends for k in (i, i + 1)}
    utf8 = {i + j for i, b in enumerate(raw) if b >= 0xC0 for j in range(utf8_width(b) + 1)}
    fields: set[int] = set()
    for start in (0, *(i + 1 for i in ends)):
        colon = raw.find(b":", start, start + 16)  # field names are short
        if colon != -1 and not set(raw[start:colon]) & set(b"\r\n"):
            fields.update(range(start, colon + 3))
    rest = sorted(set(range(1, n)) - lines - utf8 - fields)
    sampled = set(random.Random(seed).sample(rest, min(sample, len(rest))))
    return {
        kind: sorted(k for k in points if 0 < k < n)
        for kind, points in (("line ends", lines), ("utf-8", utf8), ("field names", fields), ("random", sampled))
    }


def test_split_points_cover_every_class_of_offset() -> None:
    raw = b'data: {"a":"\xc3\xa9\xf0\x9f\x98\x8a"}\r\n\r\n: keep-alive\n\nevent: x\ndata: [DONE]\n\n'
    points = split_points(raw, sample=4)
    crlf = raw.index(b"\r\n")
    assert {crlf, crlf + 1, crlf + 2, crlf + 3, crlf + 4} <= set(points["line ends"])
    e_acute = raw.index(b"\xc3")
    assert set(range(e_acute, e_acute + 2 + 4 + 1)) <= set(points["utf-8"])  # é then 😊, every byte
    assert set(range(1, 7)) <= set(points["field names"])  # d|a|t|a|:| |{
    event = raw.index(b"event:")
    assert set(range(event, event + 8)) <= set(points["field names"])
    assert len(points["random"]) == 4 and not set(points["random"]) & set(points["line ends"])


@pytest.mark.parametrize("name", STREAMS)
def test_stream_recording_split_at_every_offset_that_matters(name: str) -> None:
    """Split the recorded bytes at every offset of each class that matters (line ends, inside
    every multi-byte UTF-8 character, inside field names, a random sample of the rest): all of a
    class at once (each offset is a chunk boundary, the stream framed once), and each offset of a
    sample alone in a two-piece split, as one network read ending there gives it. Framing,
    parsing and folding give the same turn every time, in linear time (it was quadratic: 35 s)."""
    raw = recording(name)["response"]
    whole_payloads = frame([raw])
    want = summary(parse_all(whole_payloads))
    memo: dict[str, list] = {}  # data -> events: parsing a payload is pure; the split varies

    def parse_memo(payloads: list[str]) -> TurnSnapshot:
        snap = TurnSnapshot()
        for data in payloads:
            events = memo.get(data)
            if events is None:
                events = memo[data] = StreamParser().feed(data)
            for event in events:
                snap.apply(event)
        return snap

    for kind, points in split_points(raw).items():
        assert points or kind == "utf-8", kind  # some recordings are ASCII only
        payloads = frame(cut(raw, points))
        assert payloads == whole_payloads, f"framing differs when cut at every {kind} offset"
        assert summary(parse_memo(payloads)) == want, f"turn differs when cut at every {kind} offset"
        for k in random.Random(kind).sample(points, min(len(points), 16)):
            payloads = frame([raw[:k], raw[k:]])
            assert payloads == whole_payloads, f"framing differs when split at byte {k} ({kind})"
            assert summary(parse_memo(payloads)) == want, f"turn differs when split at byte {k} ({kind})"


@pytest.mark.parametrize("name", STREAMS)
def test_stream_recording_in_tiny_pieces(name: str) -> None:
    raw = recording(name)["response"]
    want = summary(parse_all(frame([raw])))
    for size in (1, 2, 3, 7):
        pieces = [raw[i : i + size] for i in range(0, len(raw), size)]
        assert summary(parse_all(frame(pieces))) == want


def test_crlf_and_cr_line_endings_frame_identically() -> None:
    raw = recording("stream_tool_call")["response"]
    want = summary(parse_all(frame([raw])))
    for ending in (b"\r\n", b"\r"):
        assert summary(parse_all(frame([raw.replace(b"\n", ending)]))) == want


@pytest.mark.parametrize("name", [n for n in BODIES if not n.startswith("error_")])
def test_nonstreamed_bodies_map_to_the_same_snapshot(name: str) -> None:
    rec = recording(name)
    body = json.loads(rec["response"])
    snap = accumulate(parse_response(rec["response"]))
    message = body["choices"][0]["message"]
    assert snap.text == (message.get("content") or "")
    assert snap.reasoning == (message.get("reasoning_content") or "")
    assert snap.choice(0).has_reasoning == ("reasoning_content" in message)
    assert [c.id for c in snap.tool_calls] == [c["id"] for c in message.get("tool_calls") or []]
    assert snap.usage is not None
    assert snap.usage.prompt_tokens == body["usage"]["prompt_tokens"]
    assert snap.usage.completion_tokens == body["usage"]["completion_tokens"]
    assert snap.usage.cache_hit_tokens == body["usage"].get("prompt_cache_hit_tokens", 0)
    assert snap.finish_reason == body["choices"][0]["finish_reason"]
    assert snap.model == body["model"]


def test_nonstreamed_body_with_leading_blank_lines() -> None:
    raw = recording("thinking_disabled")["response"]
    assert accumulate(parse_response(b"\n\n" + raw)).text == accumulate(parse_response(raw)).text


def test_streamed_and_nonstreamed_thinking_agree_on_shape() -> None:
    """Non-thinking responses carry no reasoning key; thinking ones do (recordings)."""
    off = accumulate(parse_response(recording("thinking_disabled")["response"]))
    on = accumulate(parse_response(recording("thinking_enabled_effort_high")["response"]))
    assert not off.choice(0).has_reasoning and off.usage and off.usage.reasoning_tokens is None
    assert on.choice(0).has_reasoning and on.usage and on.usage.reasoning_tokens == 15


@pytest.mark.parametrize(
    ("name", "kind", "status"),
    [
        ("error_401_auth", errors.AuthenticationError, 401),
        ("error_400_context_length", errors.ContextLengthError, 400),
        ("error_400_model_not_exist", errors.BadRequestError, 400),
    ],
)
def test_error_bodies_map_to_typed_errors(name: str, kind: type, status: int) -> None:
    rec = recording(name)
    err = errors.error_from_body(status, rec["response"], rec["meta"]["response_headers"])
    assert type(err) is kind
    assert err.status == status and err.message
    assert err.type in ("authentication_error", "invalid_request_error")
    assert "\n" not in err.one_line()


def test_context_length_error_names_the_token_counts() -> None:
    err = errors.error_from_body(400, recording("error_400_context_length")["response"])
    assert isinstance(err, errors.ContextLengthError)
    assert (err.max_tokens, err.requested_tokens) == (1048565, 1250025)
    assert "201,460 over" in err.one_line()


def test_null_fields_mean_no_update() -> None:
    parser = StreamParser()
    snap = TurnSnapshot()
    chunks = [
        {
            "id": "x",
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "delta": {"role": "assistant", "content": None, "reasoning_content": ""},
                }
            ],
            "usage": None,
        },
        {"choices": [{"index": 0, "delta": {"content": None, "reasoning_content": "think"}}]},
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {"content": "A", "reasoning_content": None, "tool_calls": None},
                }
            ]
        },
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "c1",
                                "type": "function",
                                "function": {"name": "f", "arguments": ""},
                            }
                        ]
                    },
                }
            ]
        },
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {"index": 0, "id": None, "function": {"name": None, "arguments": "{}"}}
                        ]
                    },
                }
            ]
        },
        {
            "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2},
        },
        {
            "choices": [],
            "usage": {
                "prompt_tokens": 5,
                "completion_tokens": 4,
                "prompt_cache_hit_tokens": 0,
                "prompt_cache_miss_tokens": 5,
            },
        },
    ]
    for chunk in chunks:
        for event in parser.feed(json.dumps(chunk)):
            snap.apply(event)
    assert snap.text == "A" and snap.reasoning == "think"
    assert snap.tool_calls[0].to_dict() == {"index": 0, "id": "c1", "name": "f", "arguments": "{}"}
    assert snap.usage is not None and snap.usage.prompt_tokens == 5  # last non-null usage wins


def test_done_ends_the_stream_and_junk_after_it_is_ignored() -> None:
    parser = StreamParser()
    assert parser.feed("[DONE]") == []
    assert parser.feed('{"choices":[],"cost":"0"}') == []


def test_in_band_error_and_malformed_event() -> None:
    parser = StreamParser()
    (event,) = parser.feed(
        '{"error": {"message": "overloaded", "type": "server_error", "code": 503}}'
    )
    assert isinstance(event, StreamFailed) and isinstance(event.error, errors.ServerError)
    (bad,) = StreamParser().feed("{not json")
    assert isinstance(bad, StreamFailed) and isinstance(bad.error, errors.ProtocolError)


def test_events_are_typed() -> None:
    events = StreamParser().feed(
        '{"id":"i","model":"deepseek-v4-flash","choices":[{"index":0,"delta":{"content":"hi","reasoning_content":null},"finish_reason":"stop"}]}'
    )
    assert events == [ResponseStarted("i", "deepseek-v4-flash"), TextDelta("hi"), Finished("stop")]
    assert not any(isinstance(e, ReasoningDelta) for e in events)


# --- request bodies -------------------------------------------------------------------


def test_body_thinking_default_and_disabled() -> None:
    msgs = [Message.user("hi")]
    on = build_body(msgs, RequestOptions())
    assert on["thinking"] == {"type": "enabled"}
    assert on["stream"] is True and on["stream_options"] == {"include_usage": True}
    off = build_body(msgs, RequestOptions(thinking=False, stream=False))
    assert off["thinking"] == {"type": "disabled"} and "stream_options" not in off
    legacy = build_body(msgs, RequestOptions(model="deepseek-chat"))
    assert "thinking" not in legacy


def test_body_echoes_reasoning_verbatim_and_empty_on_tool_turns() -> None:
    turn1 = accumulate(parse_response(recording("v4_thinking_tool_loop_turn1")["response"]))
    assistant = Message.from_snapshot(turn1)
    sent = assistant.to_openai()
    assert sent["reasoning_content"] == turn1.reasoning and turn1.reasoning
    no_reasoning = Message("assistant", "", tool_calls=assistant.tool_calls, reasoning="")
    assert no_reasoning.to_openai()["reasoning_content"] == ""
    snap = accumulate(parse_response(recording("nonstream_parallel_tool_calls")["response"]))
    plain_tool_turn = Message.from_snapshot(snap)
    assert plain_tool_turn.to_openai()["reasoning_content"] == ""  # key present, empty


def test_body_matches_recorded_tool_loop_history() -> None:
    """Our serialization of the recorded assistant turns equals what the recorded client sent."""
    turn1 = accumulate(parse_response(recording("v4_thinking_tool_loop_turn1")["response"]))
    sent_next = recording("v4_thinking_tool_loop_turn2_parallel")["request"]["messages"]
    ours = Message.from_snapshot(turn1).to_openai()
    theirs = next(m for m in sent_next if m["role"] == "assistant")
    assert ours["reasoning_content"] == theirs["reasoning_content"]
    assert [c["id"] for c in ours["tool_calls"]] == [c["id"] for c in theirs["tool_calls"]]
    assert [c["function"] for c in ours["tool_calls"]] == [
        c["function"] for c in theirs["tool_calls"]
    ]


def test_body_is_deterministic_and_append_only() -> None:
    history = [
        Message.system("be brief"),
        Message.user("a"),
        Message("assistant", "b", reasoning="r"),
    ]
    first = build_body(history, RequestOptions())
    second = build_body([*history, Message.user("c")], RequestOptions())
    a = json.dumps(first["messages"], separators=(",", ":"))
    b = json.dumps(second["messages"], separators=(",", ":"))
    assert b.startswith(a[:-1])
