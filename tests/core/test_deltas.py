"""Text that gateways mangle still arrives whole: a surrogate pair split across two events
joins up (a lone half becomes U+FFFD, nothing raises), and an Anthropic event carrying
``"error": null`` is no error."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evo_magic.core.deltas import SecretMask, _start_of_secret
from evo_magic.core.events import Event, Finished, ReasoningDelta, ResponseStarted, TextDelta, ToolCallDelta
from evo_magic.core.snapshot import TurnSnapshot, accumulate
from evo_magic.errors import remember_secret, scrub
from evo_magic.protocol import anthropic_messages as am
from evo_magic.protocol import openai_chat as oc

from ..keys import MASKED, OUTPUT_KEY
from ..profiles import examples
from ..streams import LONE, SPLIT, Turn, payloads


def parse(protocol: str, turn: Turn) -> TurnSnapshot:
    parser = (oc if protocol == "openai" else am).StreamParser()
    events: list[Event] = []
    for item in payloads(protocol, turn):
        events += parser.feed(json.dumps(item))  # escaped: "\ud83d" stays a lone half in its event
    return accumulate([*events, *parser.flush()])


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_a_surrogate_pair_split_across_two_events_joins_up(protocol: str) -> None:
    snap = parse(protocol, SPLIT)
    assert snap.text == "A😀B"
    assert snap.reasoning == "think 🤔 done"
    assert json.loads(snap.tool_calls[0].arguments) == {"s": "x😀y"}
    assert snap.complete and snap.usage is not None


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_lone_surrogates_become_the_replacement_character(protocol: str) -> None:
    snap = parse(protocol, LONE)
    assert snap.text == "\ufffd lone low, lone high at the end \ufffd"
    assert snap.reasoning == "r\ufffd"
    assert snap.tool_calls[0].arguments == '{"s": "\ufffd'
    for text in (snap.text, snap.reasoning, snap.tool_calls[0].arguments):
        text.encode("utf-8")  # valid text for every consumer


def test_non_streamed_bodies_are_clean_too() -> None:
    openai = {"id": "r\udc00", "model": "deepseek-v4-flash", "choices": [{"index": 0, "finish_reason": "stop",
              "message": {"role": "assistant", "content": "a\ud83db", "reasoning_content": "\ud83d\ude00\ud83d"}}]}
    snap = accumulate(oc.parse_response(json.dumps(openai)))
    assert (snap.text, snap.reasoning, snap.id) == ("a\ufffdb", "😀\ufffd", "r\ufffd")
    anthropic = {"id": "m", "model": "deepseek-v4-flash\ud800", "stop_reason": "tool_use", "content": [
        {"type": "thinking", "thinking": "x\udfff", "signature": "m"},
        {"type": "text", "text": "\ud83d"},
        {"type": "tool_use", "id": "t\ud83d", "name": "f", "input": {"a": 1}},
    ]}
    snap = accumulate(am.parse_response(json.dumps(anthropic)))
    assert (snap.text, snap.reasoning, snap.model) == ("\ufffd", "x\ufffd", "deepseek-v4-flash\ufffd")
    assert snap.tool_calls[0].id == "t\ufffd"


def test_ids_and_names_from_the_server_are_clean_text() -> None:
    parser = oc.StreamParser()
    events = parser.feed(json.dumps({"id": "\ud83d", "model": "m\udc00", "choices": [{"index": 0, "delta": {
        "tool_calls": [{"index": 0, "id": "c\ud800", "function": {"name": "f\udfff", "arguments": ""}}]}}]}))
    assert events[0] == ResponseStarted("\ufffd", "m\ufffd")
    assert events[1] == ToolCallDelta(0, "c\ufffd", "f\ufffd", "")


def test_fragments_without_surrogates_pass_unchanged() -> None:
    parser = oc.StreamParser()
    chunk = {"id": "r", "choices": [{"index": 0, "delta": {"content": "plain 中文 😀", "reasoning_content": "é"}}]}
    events = parser.feed(json.dumps(chunk, ensure_ascii=False))
    assert events[1:] == [ReasoningDelta("é"), TextDelta("plain 中文 😀")]
    assert parser.flush() == []


def test_an_unexpected_payload_type_never_raises_out_of_the_parsers() -> None:
    for parser in (oc.StreamParser(), am.StreamParser()):
        for data in ("[]", "3", '"x"', "null", "{}", '{"choices": [3, null, {"delta": 5}]}',
                     '{"type": "content_block_delta", "delta": []}', '{"type": "message_start", "message": 4}',
                     '{"type": "content_block_start", "index": "x", "content_block": []}',
                     '{"type": "message_delta", "delta": {"stop_reason": 7}, "usage": []}'):
            parser.feed(data)
        parser.flush()


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_an_error_quoting_a_lone_surrogate_is_shown_as_clean_text(protocol: str) -> None:
    parser = (oc if protocol == "openai" else am).StreamParser()
    (failed,) = parser.feed(json.dumps({"error": {"type": "api_error", "message": "upstream said \ud83d", "code": 500}}))
    err = failed.error  # type: ignore[union-attr]
    assert err.one_line().endswith("upstream said \ufffd")
    for shown in (str(err), err.one_line(), *err._render_traceback_()):
        shown.encode("utf-8")




def masked_text(pieces: list[str]) -> str:
    mask = SecretMask()
    events: list[Event] = [TextDelta(p) for p in pieces]
    return accumulate([*mask.feed(events), *mask.flush()]).text


def test_the_key_split_anywhere_across_deltas_is_masked() -> None:
    remember_secret(OUTPUT_KEY)
    text = f"a {OUTPUT_KEY} b {OUTPUT_KEY}{OUTPUT_KEY} {OUTPUT_KEY[:-1]} c"
    want = scrub(text)
    assert OUTPUT_KEY not in want and want.count(MASKED) == 3
    for i in range(len(text) + 1):
        assert masked_text([text[:i], text[i:]]) == want, i
        for j in range(i, min(len(text), i + 30) + 1):
            assert masked_text([text[:i], text[i:j], text[j:]]) == want, (i, j)
    assert masked_text(list(text)) == want  # one character per delta


def test_only_a_tail_that_could_start_the_key_is_held_back() -> None:
    remember_secret(OUTPUT_KEY)
    mask = SecretMask()
    assert mask.feed([TextDelta("plain text, nothing held")]) == [TextDelta("plain text, nothing held")]
    assert mask.feed([TextDelta("the key is evlk_OUT")]) == [TextDelta("the key is ")]
    assert mask.feed([TextDelta("SIDER said")]) == [TextDelta("evlk_OUTSIDER said")]  # not the key after all
    held = mask.feed([TextDelta("x evl"), ReasoningDelta("evlk_", block=1), ToolCallDelta(0, "c", "f", "{evlk")])
    assert held == [TextDelta("x "), ReasoningDelta("", block=1), ToolCallDelta(0, "c", "f", "{")]
    assert mask.feed([Finished("stop")]) == [Finished("stop")]
    assert mask.flush() == [TextDelta("evl"), ReasoningDelta("evlk_", block=1), ToolCallDelta(0, arguments="evlk")]
    assert mask.flush() == []


@settings(max_examples=examples(400), deadline=None)
@given(
    secrets=st.lists(st.text("abk-", min_size=1, max_size=10), min_size=1, max_size=3),
    text=st.text("abk-x ", max_size=30),
)
def test_the_masks_quick_check_lets_through_exactly_the_text_that_needs_nothing(secrets: list[str], text: str) -> None:
    """The hot path (one call per streamed delta) agrees with the definition: no secret in the
    text, and no end of it that could start one."""
    exact = not any(s in text for s in secrets) and not _start_of_secret(text, secrets)
    assert SecretMask(secrets).passes(text) == exact


def test_the_key_a_server_puts_in_the_ids_names_and_model_it_sends_is_masked() -> None:
    """A proxy that echoes the key into the response's id or model (or a tool call's id or
    name, a signature, a finish reason) must not get it into the footer, the ledger or the
    notebook's provenance."""
    remember_secret(OUTPUT_KEY)
    mask = SecretMask()
    events: list[Event] = [
        ResponseStarted(f"chatcmpl-{OUTPUT_KEY}", f"model {OUTPUT_KEY}"),
        ToolCallDelta(0, f"call_{OUTPUT_KEY}", f"f{OUTPUT_KEY}", "{}"),
        ReasoningDelta("thought", f"sig{OUTPUT_KEY}"),
        Finished(f"stop {OUTPUT_KEY}", stop_sequence=f"<{OUTPUT_KEY}>"),
    ]
    got = [*mask.feed(events), *mask.flush()]
    assert OUTPUT_KEY not in repr(got) and repr(got).count(MASKED) == 7
    assert got[0] == ResponseStarted(f"chatcmpl-{MASKED}", f"model {MASKED}")
    plain = [ResponseStarted("chatcmpl-1", "deepseek-v4-flash"), ToolCallDelta(0, "call_1", "f", "{}")]
    assert SecretMask().feed(plain) == plain  # nothing else changes
