"""The answer cache through the real session path (sessions/cache.py, the Exchange's lookup):
a re-asked exact request is answered from the store, request by request, so whole
conversations and tool loops replay; the modes; what is kept and what never is."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import evo_magic
from evo_magic import errors
from evo_magic.core.messages import Message
from evo_magic.core.snapshot import ThinkingBlock, ToolCall, TurnSnapshot
from evo_magic.ledger.budget import BudgetExceeded
from evo_magic.runtime import root
from evo_magic.sessions.cache import CacheMiss, effective_mode
from evo_magic.sessions.reply import Reply, Timing, Turn

from ..profiles import examples
from .helpers import FakeApi
from .test_session import text_stream, tool_call_stream


def rows() -> list[Any]:
    return root().accounting.ledger.rows()


def history(session: Any) -> list[dict[str, Any]]:
    return [m.to_record() for m in session.history]


def ask_twice(prompt: str, **options: Any) -> tuple[Any, Any]:
    """Ask ``prompt``, forget the conversation, ask it again: both replies."""
    s = evo_magic.session()
    first = s.ask(prompt, **options)
    s.reset()
    return first, s.ask(prompt, **options)


def test_with_the_cache_off_every_ask_is_a_request_and_nothing_is_kept(api: FakeApi) -> None:
    first, second = ask_twice("What is 2+2?")
    assert len(api.bodies) == 2 and (first.text, second.text) == ("answer 1", "answer 2")
    assert not first.cached and not second.cached
    assert first.request_key == second.request_key and len(first.request_key or "") == 64
    assert [r.request_key for r in rows()] == [first.request_key] * 2  # every row names its request
    assert root().accounting.ledger.query("SELECT count(*) FROM answers")[0][0] == 0


def test_on_a_re_asked_request_is_answered_from_the_cache_for_nothing(api: FakeApi) -> None:
    root().accounting.cache = "on"
    first, again = ask_twice("What is 2+2?")
    assert len(api.bodies) == 1  # no second request
    assert again.cached and not first.cached
    assert (again.text, again.reasoning, again.usage, again.model) == (
        first.text, first.reasoning, first.usage, first.model)  # fmt: skip
    assert again.cost == 0 and first.cost and again.saved == first.cost
    assert again.request_key == first.request_key
    original, cached = rows()
    assert (original.outcome, cached.outcome) == ("ok", "cached")
    assert cached.cost == 0 and cached.saved == first.cost and original.saved is None
    assert cached.request_key == original.request_key == first.request_key
    assert cached.usage == first.usage  # the answer's tokens, for the record (not spent again)


def test_a_cached_footer_says_cached_zero_and_what_it_saved(api: FakeApi) -> None:
    from evo_magic.display.render import footer_text

    root().accounting.cache = "on"
    first, again = ask_twice("q")
    text = footer_text(again.footer)
    saved = f"${first.cost:.4f}".rstrip("0")
    assert "cached · $0 (saved " in text and text.startswith("deepseek-v4-flash")
    assert " s ·" not in text and not text.endswith(" s")  # no time: a replay takes none
    assert text.count("cached") == 1  # not the prefix cache's "(0% cached)" of the original request
    assert " · cached · " not in footer_text(first.footer)
    assert saved[:5] in text


def test_a_whole_conversation_replays_byte_for_byte(api: FakeApi) -> None:
    root().accounting.cache = "on"
    s = evo_magic.session()
    for q in ("one", "two", "three"):
        s.ask(q, system="be brief")
    before, sent = history(s), len(api.bodies)
    s.reset()
    replies = [s.ask(q, system="be brief") for q in ("one", "two", "three")]
    assert len(api.bodies) == sent == 3 and all(r.cached for r in replies)
    assert history(s) == before  # the next request is byte-identical, so it hits too


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_a_thinking_tool_loop_replays_request_by_request(monkeypatch: pytest.MonkeyPatch, protocol: str) -> None:
    from .helpers import Api, use

    monkeypatch.setenv("EVOLINK_API_KEY", "sk-cache-loop-0000")
    monkeypatch.setenv("EVOLINK_BASE_URL", "http://127.0.0.1:9")
    api = use(Api(protocol, 2))
    ran: list[int] = []

    def ping(n: int) -> str:
        """Ping."""
        ran.append(n)
        return f"pong {n}"

    root().accounting.cache = "on"
    s = evo_magic.session()
    first = s.ask("loop", tools=[ping], protocol=protocol)
    before = history(s)
    assert len(api.bodies) == 2 and ran == [0, 1]
    s.reset()
    again = s.ask("loop", tools=[ping], protocol=protocol)
    assert len(api.bodies) == 2  # both rounds from the cache
    assert ran == [0, 1, 0, 1]  # the tools run again: their results decide the next request
    assert again.cached and [r.cached for r in again.rounds] == [True, True]
    assert history(s) == before and again.text == first.text


def test_a_tool_whose_result_changed_makes_the_next_round_a_miss(api: FakeApi) -> None:
    results = iter(["sunny", "sunny", "rain"])

    def weather(city: str) -> str:
        """Weather."""
        return next(results)

    root().accounting.cache = "on"
    api.script += [tool_call_stream([("call_00_a", "weather", '{"city": "Paris"}')])]
    s = evo_magic.session()
    s.ask("weather?", tools=[weather])
    s.reset()
    s.ask("weather?", tools=[weather])  # same result: both rounds replay
    assert len(api.bodies) == 2
    s.reset()
    last = s.ask("weather?", tools=[weather])  # round 1 replays, round 2 carries "rain": asked
    assert len(api.bodies) == 3 and [r.cached for r in last.rounds] == [True, False]


def test_refresh_asks_again_and_keeps_the_new_answer(api: FakeApi) -> None:
    acc = root().accounting
    acc.cache = "on"
    s = evo_magic.session()
    s.ask("q")
    s.reset()
    acc.cache = "refresh"
    fresh = s.ask("q")
    assert len(api.bodies) == 2 and not fresh.cached and fresh.text == "answer 2"
    s.reset()
    acc.cache = "on"
    assert s.ask("q").text == "answer 2"  # the refreshed answer replaced the old one
    assert len(api.bodies) == 2


def test_replay_only_makes_a_miss_a_one_line_error_and_sends_nothing(api: FakeApi) -> None:
    acc = root().accounting
    acc.cache = "replay-only"
    s = evo_magic.session()
    with pytest.raises(CacheMiss) as caught:
        s.ask("Which columns need cleaning before I compute revenue? A long question " * 3, cell=7)
    line = caught.value.one_line()
    assert api.bodies == [] and rows() == [] and s.turns == []
    assert "In[7]" in line and "Which columns need cleaning" in line and "\n" not in line
    assert "%deepseek cache on" in line and "EVO_MAGIC_CACHE=on" in line
    acc.cache = "on"
    s.ask("q")
    s.reset()
    acc.cache = "replay-only"
    assert s.ask("q").cached and len(api.bodies) == 1


def test_replay_only_cannot_be_loosened_by_a_call(api: FakeApi) -> None:
    root().accounting.cache = "replay-only"
    for override in ("on", "off", "refresh"):
        with pytest.raises(CacheMiss):
            evo_magic.session().ask("q", cache=override)
    assert api.bodies == []


def test_a_call_may_turn_the_cache_on_or_off_for_itself(api: FakeApi) -> None:
    s = evo_magic.session()
    s.ask("q", cache="on")
    s.reset()
    assert s.ask("q", cache="on").cached and len(api.bodies) == 1
    s.reset()
    root().accounting.cache = "on"
    assert not s.ask("q", cache="off").cached and len(api.bodies) == 2
    with pytest.raises(errors.OptionError, match="cache"):
        s.ask("q", cache="sometimes")


@pytest.mark.parametrize(
    ("setting", "env", "override", "expected"),
    [
        (None, None, None, "off"),
        (None, "on", None, "on"),
        (None, " Replay-Only ", None, "replay-only"),
        ("off", "on", None, "off"),  # an explicit setting beats the environment
        ("on", "replay-only", None, "replay-only"),  # except CI's guard: a notebook's "cache on" cannot spend
        ("off", "replay-only", "on", "replay-only"),
        ("on", None, "off", "off"),
        (None, "replay-only", "off", "replay-only"),  # CI's guard holds whatever a cell says
        ("replay-only", None, "on", "replay-only"),
        (None, "", "on", "on"),
    ],
)
def test_the_mode_in_force(setting: Any, env: Any, override: Any, expected: str) -> None:
    environ = {} if env is None else {"EVO_MAGIC_CACHE": env}
    assert effective_mode(setting, override, environ) == expected


def test_a_bad_environment_value_is_one_clear_line(api: FakeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVO_MAGIC_CACHE", "replay_only")
    with pytest.raises(errors.ConfigError) as caught:
        evo_magic.session().ask("q")
    assert "EVO_MAGIC_CACHE" in caught.value.one_line() and "replay-only" in caught.value.one_line()
    assert api.bodies == []


def test_the_environment_turns_it_on_for_headless_runs(api: FakeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVO_MAGIC_CACHE", "on")
    s = evo_magic.session()
    s.ask("q")
    s.reset()
    assert s.ask("q").cached and len(api.bodies) == 1


def test_errors_and_interrupts_are_never_kept_but_a_cut_answer_is(api: FakeApi) -> None:
    root().accounting.cache = "on"
    s = evo_magic.session()
    api.script.append(httpx.Response(400, json={"error": {"message": "boom"}}))
    with pytest.raises(errors.ApiError):
        s.ask("q", max_tokens=5)
    cut = text_stream("cut").content.replace(b'"finish_reason": "stop"', b'"finish_reason": "length"')
    api.script.append(httpx.Response(200, headers={"content-type": "text/event-stream"}, content=cut))
    assert s.ask("q", max_tokens=5).status == "length"
    s.reset()
    again = s.ask("q", max_tokens=5)
    assert again.cached and again.status == "length" and len(api.bodies) == 2


def test_an_interrupted_answer_is_not_kept(api: FakeApi) -> None:
    class Stream(httpx.SyncByteStream):
        def __iter__(self) -> Any:
            yield text_stream("half").content[:80]
            raise KeyboardInterrupt

    root().accounting.cache = "on"
    api.script.append(httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=Stream()))
    with pytest.raises(KeyboardInterrupt):
        evo_magic.session().ask("q")
    assert root().accounting.ledger.query("SELECT count(*) FROM answers")[0][0] == 0


def test_the_budget_ignores_cached_answers(api: FakeApi) -> None:
    acc = root().accounting
    acc.cache = "on"
    s = evo_magic.session()
    s.ask("q")
    spent = acc.ledger.spend(acc.notebook)
    acc.budget = spent.cost  # spent: the next billed request is refused
    s.reset()
    assert s.ask("q").cached  # an answer from the cache costs nothing and passes
    assert acc.ledger.spend(acc.notebook) == spent
    with pytest.raises(BudgetExceeded):
        s.ask("another question")


def test_json_mode_retry_is_not_answered_by_the_invalid_answer_it_retries(api: FakeApi) -> None:
    root().accounting.cache = "on"
    api.script += [text_stream("   "), text_stream('{"a": 1}')]
    s = evo_magic.session()
    assert s.ask("numbers", json_mode=True).data == {"a": 1} and len(api.bodies) == 2
    s.reset()
    again = s.ask("numbers", json_mode=True)
    assert again.data == {"a": 1} and again.cached and len(api.bodies) == 2


def test_emulator_answers_are_not_kept(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from ..conftest import use_offline

    use_offline(monkeypatch, emulator, "/work/cache-offline.ipynb")
    root().accounting.cache = "on"
    sent = len(emulator.requests)
    s = evo_magic.session()
    s.ask("What is 2+2?")
    s.reset()
    assert not s.ask("What is 2+2?").cached and len(emulator.requests) == sent + 2


def test_n_choices_replay_whole_and_pick_continues_from_the_same_choice(api: FakeApi) -> None:
    root().accounting.cache = "on"
    api.script.append(text_stream("option", n=3))
    s = evo_magic.session()
    first = s.ask("names?", n=3)
    s.pick(2)
    s.ask("why?")
    before = history(s)
    s.reset()
    again = s.ask("names?", n=3)
    s.pick(2)
    s.ask("why?")
    assert again.choices == first.choices and history(s) == before and len(api.bodies) == 2


def test_a_lookup_the_ledger_cannot_answer_is_a_miss_said_once(
    api: FakeApi, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    acc = root().accounting
    acc.cache = "on"
    shown: list[Any] = []
    acc.show = shown.append
    (tmp_path / "afile").write_text("")
    monkeypatch.setenv("EVO_MAGIC_HOME", str(tmp_path / "afile" / "sub"))
    assert evo_magic.session().ask("q").ok and evo_magic.session().ask("r").ok
    assert len(api.bodies) == 2 and len(shown) == 1  # the ledger's one notice, no traceback


# --- what is the same request: a property through the real session path ----------------------
def ping(n: int) -> str:
    """Ping."""
    return f"pong {n}"


def ping_doc(n: int) -> str:
    """Ping a host."""
    return f"pong {n}"


def ping_name(count: int) -> str:
    """Ping."""
    return f"pong {count}"


def ping_type(n: str) -> str:
    """Ping."""
    return f"pong {n}"


def ping_default(n: int = 1) -> str:
    """Ping."""
    return f"pong {n}"


def pong(n: int) -> str:
    """Ping."""
    return f"pong {n}"


PROMPT = "And now?"
BASE: dict[str, dict[str, Any]] = {  # the options of the request kept, per protocol
    "openai": {"thinking": True, "max_tokens": 500, "temperature": 0.5, "top_p": 0.9, "stop": ("END",),
               "frequency_penalty": 0.1, "presence_penalty": 0.2, "seed": 7, "user": "u1", "logit_bias": {"12": 1.0}},
    "anthropic": {"thinking": True, "max_tokens": 500, "temperature": 0.5, "top_p": 0.9, "stop": ("END",)},
}  # fmt: skip
LETTERS = st.text("abcdefghXYZ!? ", min_size=1, max_size=6)
COMMON: dict[str, st.SearchStrategy[Any]] = {
    "model": st.just("deepseek-v4-pro"),
    "thinking": st.just(False),
    "reasoning_effort": st.sampled_from(["low", "medium", "high", "max"]),
    "max_tokens": st.integers(1, 384_000).filter(lambda v: v != 500),
    "temperature": st.floats(0, 2).filter(lambda v: v != 0.5),
    "top_p": st.floats(0, 1).filter(lambda v: v != 0.9),
    "stop": st.lists(LETTERS, min_size=1, max_size=3).map(tuple).filter(lambda v: v != ("END",)),
}
OPENAI_ONLY = {
    "frequency_penalty": st.floats(-2, 2).filter(lambda v: v != 0.1),
    "presence_penalty": st.floats(-2, 2).filter(lambda v: v != 0.2),
    "seed": st.integers(0, 2**31).filter(lambda v: v != 7),
    "user": LETTERS.filter(lambda v: v != "u1"),
    "logit_bias": st.dictionaries(st.sampled_from(["12", "13", "99"]), st.floats(-100, 100), min_size=1).filter(
        lambda v: v != {"12": 1.0}),
    "logprobs": st.just(True),
    "n": st.integers(2, 8),
    "json_mode": st.just(True),
}  # fmt: skip


def base_history() -> list[Message]:
    """Two turns: thinking with signatures, a tool call and its result, a system prompt."""
    return [
        Message.system("Be terse."),
        Message.user("What is 2+2?"),
        Message("assistant", "4", reasoning="Add them.", thinking=(ThinkingBlock("Add them.", "sig-one"),)),
        Message.user("Ping 1."),
        Message("assistant", "", reasoning="Call it.", thinking=(ThinkingBlock("Call it.", "sig-two"),),
                tool_calls=(ToolCall(0, "call_1", "ping", '{"n": 1}'),)),
        Message.tool_result("call_1", "pong 1", name="ping"),
        Message("assistant", "It answered pong 1.", reasoning="Done.", thinking=(ThinkingBlock("Done.", "sig-3"),)),
    ]  # fmt: skip


def with_history(session: Any, messages: list[Message]) -> None:
    reply = Reply(TurnSnapshot(), "deepseek-v4-flash", session.name, Timing(0.0))
    session.turns[:] = [Turn("earlier", reply, None, messages)]


def wire_fields(protocol: str) -> list[tuple[int, str]]:
    """(message, field) pairs that reach the wire: the thinking's text and signature on the
    Anthropic protocol, the reasoning on the OpenAI one (which has no signatures)."""
    out = []
    for i, m in enumerate(base_history()):
        out.append((i, "content"))
        if m.role == "assistant":
            out += [(i, "thinking"), (i, "signature")] if protocol == "anthropic" else [(i, "reasoning")]
        if m.tool_calls:
            out += [(i, "arguments"), (i, "call_id")]
        if m.tool_call_id:
            out.append((i, "tool_call_id"))
    return [(i, f) for i, f in out if _text_of(base_history()[i], f)]


def _text_of(m: Message, name: str) -> str:
    values = {"content": m.content, "reasoning": m.reasoning, "tool_call_id": m.tool_call_id,
              "thinking": m.thinking[0].text if m.thinking else None,
              "signature": m.thinking[0].signature if m.thinking else None,
              "arguments": m.tool_calls[0].arguments if m.tool_calls else None,
              "call_id": m.tool_calls[0].id if m.tool_calls else None}  # fmt: skip
    return values[name] or ""


def _with_text(m: Message, name: str, text: str) -> Message:
    block = m.thinking[0] if m.thinking else None
    call = m.tool_calls[0] if m.tool_calls else None
    if name in ("thinking", "signature") and block is not None:
        new = ThinkingBlock(text, block.signature) if name == "thinking" else ThinkingBlock(block.text, text)
        return dataclasses.replace(m, thinking=(new,))
    if name in ("arguments", "call_id") and call is not None:
        new_call = dataclasses.replace(call, **{"arguments" if name == "arguments" else "id": text})
        return dataclasses.replace(m, tool_calls=(new_call,))
    return dataclasses.replace(m, **{name: text})


@pytest.fixture
def protocols(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """An API answering either protocol (by the path asked), keeping the bodies it gets."""
    from ..streams import Turn as Said
    from ..streams import payloads, sse

    monkeypatch.setenv("EVOLINK_API_KEY", "sk-property-key-1111")
    monkeypatch.setenv("EVOLINK_BASE_URL", "http://127.0.0.1:9")
    bodies: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        protocol = "anthropic" if request.url.path.endswith("/messages") else "openai"
        said = sse(protocol, payloads(protocol, Said(text=[f"answer {len(bodies)}"])))
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=said)

    root().transport_options = {"http_transport": httpx.MockTransport(answer)}
    return bodies


def asked_again(s: Any, bodies: list[dict[str, Any]], history: list[Message], tools: list[Any], **opts: Any) -> bool:
    """Ask :data:`PROMPT` after ``history`` under replay-only: True for an answer from the
    cache, False for a miss (which sends nothing either way)."""
    base = {**BASE[opts.get("protocol", "openai")], "protocol": opts.get("protocol", "openai")}
    with_history(s, base_history())
    s.ask(PROMPT, tools=[ping], cache="on", **base)  # the request kept (asked only the first time)
    with_history(s, history)
    sent = len(bodies)
    try:
        hit = s.ask(PROMPT, tools=tools, cache="replay-only", **{**base, **opts}).cached
    except CacheMiss:
        hit = False
    assert len(bodies) == sent  # replay-only: nothing is ever sent
    return hit


PROTOCOLS = ["openai", "anthropic"]
OPTIONS = [(p, name) for p in PROTOCOLS for name in sorted({**COMMON, **(OPENAI_ONLY if p == "openai" else {})})]


@pytest.mark.parametrize(("protocol", "name"), OPTIONS)
@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_changing_any_single_option_is_a_miss(
    protocols: list[dict[str, Any]], protocol: str, name: str, data: st.DataObject
) -> None:
    value = data.draw({**COMMON, **OPENAI_ONLY}[name], label=name)
    s = evo_magic.session(f"options-{protocol}")
    assert not asked_again(s, protocols, base_history(), [ping], protocol=protocol, **{name: value})


FIELDS = [(p, i, name) for p in PROTOCOLS for i, name in wire_fields(p)]


@pytest.mark.parametrize(("protocol", "index", "name"), FIELDS)
@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_changing_any_character_of_any_message_is_a_miss(
    protocols: list[dict[str, Any]], protocol: str, index: int, name: str, data: st.DataObject
) -> None:
    history = base_history()
    text = _text_of(history[index], name)
    at = data.draw(st.integers(0, len(text) - 1), label="at")
    char = data.draw(st.characters(codec="utf-8").filter(lambda c: c != text[at]), label="char")
    changed = text[:at] + char + text[at + 1 :]
    # Anthropic sends a call's arguments as the JSON object they spell: a change that spells the
    # same object (a space for a newline) is the same request, and a hit (pinned below)
    assume(not (protocol == "anthropic" and name == "arguments" and _same_json(text, changed)))
    history[index] = _with_text(history[index], name, changed)
    s = evo_magic.session(f"messages-{protocol}")
    assert not asked_again(s, protocols, history, [ping], protocol=protocol)


def _same_json(a: str, b: str) -> bool:
    try:
        return bool(json.loads(a) == json.loads(b))
    except ValueError:
        return False


@pytest.mark.parametrize(("protocol", "hit"), [("anthropic", True), ("openai", False)])
def test_arguments_spelled_differently_are_the_same_request_only_where_the_wire_says_so(
    protocols: list[dict[str, Any]], protocol: str, hit: bool
) -> None:
    history = base_history()
    index = next(i for i, m in enumerate(history) if m.tool_calls)
    spelled = json.dumps(json.loads(history[index].tool_calls[0].arguments), indent=1)
    history[index] = _with_text(history[index], "arguments", spelled)
    s = evo_magic.session(f"spelling-{protocol}")
    assert asked_again(s, protocols, history, [ping], protocol=protocol) is hit


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("tool", [ping_doc, ping_name, ping_type, ping_default, pong])
def test_changing_a_tool_schema_is_a_miss(protocols: list[dict[str, Any]], protocol: str, tool: Any) -> None:
    s = evo_magic.session()
    assert not asked_again(s, protocols, base_history(), [tool], protocol=protocol)
    assert asked_again(s, protocols, base_history(), [ping], protocol=protocol)  # the same schema: a hit


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_only_the_stream_flag_the_key_or_what_never_reaches_the_wire_is_a_hit(
    protocols: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, protocol: str
) -> None:
    s = evo_magic.session()
    assert asked_again(s, protocols, base_history(), [ping], protocol=protocol, stream=False)
    monkeypatch.setenv("EVOLINK_API_KEY", "sk-another-key-9999")
    assert asked_again(s, protocols, base_history(), [ping], protocol=protocol)
    history = base_history()
    history[1] = dataclasses.replace(history[1], meta={"cell": 99})  # what the session keeps beside it
    assert asked_again(s, protocols, history, [ping], protocol=protocol)


def test_the_protocol_is_part_of_the_request(protocols: list[dict[str, Any]]) -> None:
    s = evo_magic.session()
    with_history(s, base_history())
    s.ask(PROMPT, cache="on", **BASE["anthropic"])
    with_history(s, base_history())
    assert s.ask(PROMPT, cache="on", **BASE["anthropic"]).cached
    with_history(s, base_history())
    with pytest.raises(CacheMiss):
        s.ask(PROMPT, cache="replay-only", protocol="anthropic", **BASE["anthropic"])
    assert len(protocols) == 1


def test_a_schema_answer_and_its_retry_replay_with_the_turn_in_the_provenance(api: FakeApi) -> None:
    from evo_magic.sessions.provenance import provenance

    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    api.script += [text_stream('{"a": "one"}'), text_stream('{"a": 1}')]  # invalid, then fixed on the retry
    s = evo_magic.session()
    first = s.ask("numbers", schema=schema, cache="on")
    before = history(s)
    s.reset()
    again = s.ask("numbers", schema=schema, cache="on")
    assert first.data == again.data == {"a": 1} and again.cached and len(api.bodies) == 2
    assert history(s) == before
    turn = provenance(again)["turn"]  # the retry ends the turn: its messages include the first try
    assert [m["role"] for m in turn["messages"]] == ["user", "assistant", "user"]
