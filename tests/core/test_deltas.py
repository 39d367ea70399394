"""Text that gateways mangle still arrives whole: a surrogate pair split across two events
joins up (a lone half becomes U+FFFD, nothing raises), and an Anthropic event carrying
``"error": null`` is no error."""

from __future__ import annotations

import json
from typing import Any

import pytest

import evo_magic
import evo_magic.ledger.accounting as accounting
from evo_magic import errors
from evo_magic.core.events import Event, ReasoningDelta, ResponseStarted, TextDelta, ToolCallDelta
from evo_magic.core.snapshot import TurnSnapshot, accumulate
from evo_magic.protocol import anthropic_messages as am
from evo_magic.protocol import openai_chat as oc
from evo_magic.sessions.registry import registry

from .streams import Turn, payloads, serve, sse

SPLIT = Turn(
    text=["A\ud83d", "\ude00B"],
    reasoning=["think \ud83e", "\udd14 done"],
    calls=[("call_1", "echo", ['{"s": "x\ud83d', '\ude00y"}'])],
)
LONE = Turn(text=["\ude00 lone low, lone high at the end \ud83d"], reasoning=["r\ud83d"],
            calls=[("call_1", "echo", ['{"s": "\ud83d'])])


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


# --- through the session: view, -o, history and ledger all get the text -------------------------
@pytest.fixture
def ledger(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("EVOLINK_API_KEY", "sk-stream-text-0000")
    monkeypatch.setenv("EVOLINK_BASE_URL", "http://127.0.0.1:9")
    acc = accounting.install(None, None)
    yield acc.ledger
    acc.close()


class View:
    """A live view that, like the real ones, must be able to send every text as UTF-8."""

    def __init__(self) -> None:
        self.finished: Any = None

    def update(self, snap: TurnSnapshot) -> None:
        (snap.text + snap.reasoning + "".join(c.arguments for c in snap.tool_calls)).encode("utf-8")

    def finish(self, snap: TurnSnapshot, footer: Any) -> None:
        self.update(snap)
        self.finished = footer


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_a_split_pair_reaches_the_view_history_and_ledger_whole(protocol: str, ledger: Any) -> None:
    turn = Turn(text=["A\ud83d", "\ude00B"], reasoning=["r\ud83e", "\udd14"])
    raw = sse(protocol, payloads(protocol, turn))
    registry().transport_kwargs = {"http_transport": serve(lambda body: [raw])}
    view = View()
    reply = evo_magic.session().ask("smile", protocol=protocol, view=view)
    assert (reply.status, reply.text, reply.reasoning) == ("ok", "A😀B", "r🤔")
    assert view.finished.status == "ok"
    assert evo_magic.session().history[-1].content == "A😀B"
    (row,) = ledger.rows()
    assert row.outcome == "ok" and row.usage is not None and row.usage.prompt_tokens == 11
    ((_, record),) = ledger.turns(row.notebook, "default")
    assert (record.text, record.reasoning) == ("A😀B", "r🤔")


def test_a_ping_with_a_null_error_keeps_the_answer_in_history(ledger: Any) -> None:
    turn = Turn(text=["Hello"], noise=[1, 3])
    raw = sse("anthropic", payloads("anthropic", turn))
    registry().transport_kwargs = {"http_transport": serve(lambda body: [raw])}
    reply = evo_magic.session().ask("hi", protocol="anthropic")
    assert reply.status == "ok" and reply.text == "Hello" and reply.error is None
    assert [m.role for m in evo_magic.session().history] == ["user", "assistant"]
    assert [r.outcome for r in ledger.rows()] == ["ok"]


def test_an_interrupted_stream_keeps_clean_text(ledger: Any) -> None:
    """A stream that ends after half a pair: the partial answer ends in U+FFFD and is recorded."""
    raw = sse("openai", payloads("openai", Turn(text=["ok \ud83d"]))[:-1])  # no finish, no usage
    registry().transport_kwargs = {"http_transport": serve(lambda body: [raw])}
    with pytest.raises(errors.TransportError) as caught:
        evo_magic.session().ask("hi")
    reply = caught.value.reply  # type: ignore[attr-defined]
    assert reply.text == "ok \ufffd" and reply.status == "error"
    assert [r.outcome for r in ledger.rows()] == ["error"]


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
