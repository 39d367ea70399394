"""Property tests of the stream path, both protocols: any text split anywhere arrives exactly,
and nothing a server sends makes the parser (or the fold and the render after it) raise.

The first property goes through everything a session runs: the bytes of the stream cut at
arbitrary offsets, httpx over an ``httpx.MockTransport``, httpx-sse framing
(``Transport.iter_sse_data``), the protocol parser, the secret mask and the fold.
"""

from __future__ import annotations

import copy
import json
import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import evo_magic
from evo_magic.core.events import Event, ReasoningDelta, TextDelta, ToolCallDelta
from evo_magic.core.snapshot import accumulate
from evo_magic.display.render import Footer, render_reply_html, render_reply_text
from evo_magic.errors import scrub
from evo_magic.protocol import anthropic_messages as am
from evo_magic.protocol import openai_chat as oc
from evo_magic.runtime import root

from ..profiles import examples
from ..streams import Turn, cut, payloads, serve, sse, units

KEY = "evlk_PROPERTY9e8d7c6b5a"  # the session's key: the model repeating it must come out masked
SPECIAL = ["😀", "\U0001f9ea", "\U00010348", "é", "中", "\r", "\n", "\r\n", "\u2028", "\u2029", "\x85", '"', "\\",
           "\ndata: [DONE]\n\n", "event: error\n", KEY, KEY[:6], KEY[-9:], "\ufeff", "\x00"]
texts = st.lists(st.one_of(st.text(max_size=6), st.sampled_from(SPECIAL)), max_size=8).map("".join)
cuts = st.lists(st.integers(0, 60), max_size=6)


@st.composite
def turns(draw: st.DrawFn) -> tuple[Turn, dict[str, Any]]:
    """A turn cut into fragments at arbitrary UTF-16 boundaries, and what it should fold into."""
    text = draw(texts)
    reasoning = draw(st.none() | texts)
    calls = draw(st.lists(st.tuples(st.sampled_from(["f", "lookup", "g_2"]), texts), max_size=2))
    turn = Turn(
        text=cut(units(text), draw(cuts)),
        reasoning=None if reasoning is None else cut(units(reasoning), draw(cuts)),
        calls=[(f"call_{i}", name, cut(units(args), draw(cuts))) for i, (name, args) in enumerate(calls)],
        prompt_tokens=draw(st.integers(0, 10**6)),
        completion_tokens=draw(st.integers(1, 10**6)),
        noise=draw(st.lists(st.integers(1, 40), max_size=3)),
    )
    want = {
        "text": scrub(text),
        "reasoning": "" if reasoning is None else scrub(reasoning),
        "calls": [(f"call_{i}", name, scrub(args)) for i, (name, args) in enumerate(calls)],
        "usage": (turn.prompt_tokens, turn.completion_tokens),
        "finish": turn.finish,
    }
    return turn, want


class Wire:
    """The fake API's next answer: the byte pieces it sends."""

    def __init__(self) -> None:
        self.pieces: list[bytes] = []

    def __call__(self, body: dict[str, Any]) -> list[bytes]:
        return self.pieces


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> Wire:
    monkeypatch.setenv("EVOLINK_API_KEY", KEY)
    monkeypatch.setenv("EVOLINK_BASE_URL", "http://127.0.0.1:9")
    fake = Wire()
    root().transport_options = {"http_transport": serve(fake)}
    return fake


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=turns(), at=st.lists(st.integers(0, 4000), max_size=12), eol=st.sampled_from(["\n", "\r\n", "\r"]),
       ascii_only=st.lists(st.booleans(), min_size=1, max_size=3))
def test_any_text_split_anywhere_arrives_exactly(
    wire: Wire, caplog: pytest.LogCaptureFixture, protocol: str, case: tuple[Turn, dict[str, Any]], at: list[int],
    eol: str, ascii_only: list[bool],
) -> None:
    turn, want = case
    raw = sse(protocol, payloads(protocol, turn), eol=eol, ascii_only=ascii_only)
    wire.pieces = cut(raw, at)
    session = evo_magic.session()
    session.reset()
    reply = session.ask("go", protocol=protocol)
    assert reply.status == "ok" and reply.error is None
    assert reply.text == want["text"]
    assert reply.reasoning == want["reasoning"]
    assert [(c.id, c.name, c.arguments) for c in reply.tool_calls] == want["calls"]
    assert reply.usage is not None and (reply.usage.prompt_tokens, reply.usage.completion_tokens) == want["usage"]
    assert reply.finish_reason == want["finish"]
    assert session.history[-1].content == want["text"]
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]  # the ledger took it too


# --- whatever a server sends, the parsers return events; the fold and the render take them --------
KEYS = ["type", "index", "delta", "content_block", "choices", "message", "usage", "error", "text", "thinking",
        "signature", "partial_json", "content", "reasoning_content", "tool_calls", "function", "arguments", "name",
        "id", "model", "finish_reason", "stop_reason", "stop_sequence", "input", "logprobs", "prompt_tokens",
        "output_tokens", "input_tokens"]
EVENT_TYPES = ["message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta",
               "message_stop", "ping", "error", "future_event"]
BLOCK_TYPES = ["text", "thinking", "redacted_thinking", "tool_use", "text_delta", "thinking_delta", "signature_delta",
               "input_json_delta", "future_block"]
TYPES = EVENT_TYPES + BLOCK_TYPES
scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.sampled_from(TYPES)
           | st.text(max_size=5) | st.sampled_from(["\ud83d", "\ude00", "x\ud800"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=3), inner, max_size=5), max_leaves=25)
events_like = st.dictionaries(st.sampled_from(KEYS), values, max_size=6)
odd_numbers = st.sampled_from([float("inf"), float("-inf"), float("nan"), 1e300, -1, 2**70, 0.5, "12", None])
odd = st.sampled_from([float("inf"), float("-inf"), float("nan"), 1e300, 2**70, -1, 0, "", "x", "\ud83d", [], {},
                       [1], {"a": 1}, None, True]).map(copy.deepcopy)  # a fresh [] each time: mutations follow


def shaped(required: dict[str, Any], **optional: Any) -> Any:
    return st.fixed_dictionaries(required, optional={k: v | values for k, v in optional.items()})


numbers = st.integers(-(2**70), 2**70) | st.floats()
usage = shaped({}, **{k: numbers for k in ["prompt_tokens", "completion_tokens", "prompt_cache_hit_tokens",
                                            "prompt_cache_miss_tokens", "input_tokens", "output_tokens",
                                            "cache_read_input_tokens", "cache_creation_input_tokens"]})
block = shaped({"type": st.sampled_from(BLOCK_TYPES)}, **{k: values for k in ["text", "thinking", "signature", "partial_json", "id",
                                                            "name", "input", "stop_reason", "stop_sequence"]})
anthropic_like = shaped({"type": st.sampled_from(EVENT_TYPES)}, index=values, content_block=block, delta=block,
                        message=shaped({}, id=values, model=values, usage=usage), usage=usage, error=values)
call = shaped({}, index=values, id=values, function=shaped({}, name=values, arguments=values))
delta = shaped({}, content=values, reasoning_content=values, tool_calls=st.lists(call, max_size=2))
choice = shaped({}, index=values, delta=delta, message=delta, finish_reason=values, logprobs=values)
openai_like = shaped({}, id=values, model=values, choices=st.lists(choice, max_size=2), usage=usage, error=values)
server_sends = anthropic_like | openai_like | events_like | values


def payload_text(value: Any, raw: str | None) -> str:
    if raw is not None:
        return raw
    try:
        return json.dumps(value, allow_nan=True)
    except ValueError:  # pragma: no cover - json.dumps of generated values does not fail
        return "{"


def paths(value: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) inside a decoded JSON value."""
    found: list[tuple[Any, Any]] = []
    keys = value.keys() if isinstance(value, dict) else range(len(value)) if isinstance(value, list) else ()
    for key in keys:
        found.append((value, key))
        found += paths(value[key])
    return found


@st.composite
def mutated_streams(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A valid stream of either protocol with a few fields replaced by odd values (another type,
    infinity, a lone surrogate, ...) or removed, and maybe junk payloads between its events."""
    protocol = draw(st.sampled_from(["openai", "anthropic"]))
    items: list[Any] = payloads(protocol, draw(turns())[0])
    for _ in range(draw(st.integers(1, 4))):
        found = paths(items)
        name = draw(st.sampled_from(sorted({str(key) for _, key in found})))  # any field, early or late
        container, key = draw(st.sampled_from([(c, k) for c, k in found if str(k) == name]))
        if draw(st.booleans()) or isinstance(container, list):
            number = isinstance(container[key], (int, float)) and not isinstance(container[key], bool)
            container[key] = draw((odd_numbers if number else odd) | values)
        else:
            del container[key]
    texts = [payload_text(item, None) for item in items]
    for _ in range(draw(st.integers(0, 2))):
        texts.insert(draw(st.integers(0, len(texts))), draw(st.text(max_size=20) | st.sampled_from(["[DONE]", "{}"])))
    return protocol, texts


def run_through(parser: Any, texts: list[str]) -> None:
    """Feed, flush, fold and render: nothing raises, and every text is text UTF-8 can carry."""
    events: list[Event] = []
    for text in texts:
        events += parser.feed(text)
    events += parser.flush()
    for event in events:
        if isinstance(event, (TextDelta, ReasoningDelta)):
            assert isinstance(event.text, str)
            event.text.encode("utf-8")
        if isinstance(event, ToolCallDelta):
            assert isinstance(event.arguments, str)
    snap = accumulate(events)
    footer = Footer(snap.model, snap.usage, 1.0, None, None)
    render_reply_html(snap, footer).encode("utf-8")
    render_reply_text(snap, footer).encode("utf-8")


@settings(max_examples=examples(300), deadline=None)
@given(stream=mutated_streams())
def test_malformed_events_in_a_stream_never_raise(stream: tuple[str, list[str]]) -> None:
    protocol, texts = stream
    run_through((oc if protocol == "openai" else am).StreamParser(), texts)


@settings(max_examples=examples(150), deadline=None)
@given(items=st.lists(st.tuples(server_sends, st.none() | st.text(max_size=20)), max_size=6))
def test_unknown_events_never_raise(items: list[tuple[Any, str | None]]) -> None:
    for parser in (oc.StreamParser(), am.StreamParser()):
        run_through(parser, [payload_text(value, raw) for value, raw in items])


@settings(max_examples=examples(200), deadline=None)
@given(body=server_sends)
def test_malformed_non_streamed_bodies_give_events_or_a_protocol_error(body: Any) -> None:
    from evo_magic.errors import EvoMagicError

    for codec in (oc, am):
        try:
            events = codec.parse_response(payload_text(body, None))
        except EvoMagicError:
            continue
        snap = accumulate(events)
        render_reply_text(snap, Footer(snap.model, snap.usage, 1.0, None, None)).encode("utf-8")


def test_json_nested_too_deep_or_numbers_too_large_are_protocol_errors() -> None:
    from evo_magic.core.events import StreamFailed
    from evo_magic.errors import ProtocolError

    huge = '{"type": "message_delta", "delta": {}, "usage": {"output_tokens": 1e999, "prompt_tokens": 1e999}}'
    for codec in (oc, am):
        for data in ("[" * 100_000, '{"a":' * 50_000):
            (failed,) = codec.StreamParser().feed(data)
            assert isinstance(failed, StreamFailed) and isinstance(failed.error, ProtocolError)
            with pytest.raises(ProtocolError):
                codec.parse_response(data)
        events = codec.StreamParser().feed(huge)  # infinite counts: no count, not an OverflowError
        assert not any(isinstance(e, StreamFailed) for e in events)
