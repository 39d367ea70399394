"""Session semantics over an httpx.MockTransport fake of the API (no sockets)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

import evo_magic
from evo_magic import errors
from evo_magic.core.options import MODELS, RequestOptions
from evo_magic.core.snapshot import TurnSnapshot
from evo_magic.errors import OptionError
from evo_magic.ledger.accounting import Accounting
from evo_magic.runtime import root
from evo_magic.sessions.host import TurnPicked
from evo_magic.sessions.reply import Interrupted

from ..conftest import use_emulator
from ..keys import MASKED, ODD_KEY, OUTPUT_KEY, home_text
from ..streams import ID, MODEL, Turn, payloads, serve, sse
from .helpers import FakeApi, answer, sse_chunks


def test_ask_returns_reply_fields(api: FakeApi) -> None:
    reply = evo_magic.session().ask("hello")
    assert (reply.text, reply.reasoning, reply.model, reply.status) == (
        "answer 1",
        "reasoning 1",
        "deepseek-v4-flash",
        "ok",
    )
    assert (
        reply.usage is not None
        and reply.usage.reasoning_tokens == 3
        and reply.usage.cache_miss_tokens == 10
    )
    assert api.bodies[0]["thinking"] == {"type": "enabled"} and api.bodies[0]["stream"] is True


def test_history_is_append_only_and_reasoning_echoed_verbatim(api: FakeApi) -> None:
    s = evo_magic.session()
    s.ask("one", system="be brief")
    s.ask("two")
    s.ask("three")
    first, second, third = (b["messages"] for b in api.bodies)
    assert second[: len(first)] == first and third[: len(second)] == second
    assert first[0] == {"role": "system", "content": "be brief"}
    assert second[2] == {
        "role": "assistant",
        "content": "answer 1",
        "reasoning_content": "reasoning 1",
    }
    assert [m["role"] for m in third] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]


def test_no_think_sends_disabled_and_keeps_no_reasoning(api: FakeApi) -> None:
    s = evo_magic.session()
    s.ask("one", thinking=False)
    s.ask("two", thinking=False)
    assert api.bodies[0]["thinking"] == {"type": "disabled"}
    assert "reasoning_content" not in api.bodies[1]["messages"][1]


def test_changing_the_system_prompt_appends_instead_of_rewriting(api: FakeApi) -> None:
    s = evo_magic.session()
    s.ask("one", system="A")
    s.ask("two", system="B")
    msgs = api.bodies[1]["messages"]
    assert msgs[0] == {"role": "system", "content": "A"}
    assert msgs[3] == {"role": "system", "content": "B"}


def test_failed_request_leaves_no_half_turn(api: FakeApi) -> None:
    s = evo_magic.session()
    s.ask("one")
    api.script.append(httpx.Response(401, json={"error": {"message": "Authentication Fails"}}))
    with pytest.raises(errors.AuthenticationError):
        s.ask("two")
    assert len(s.history) == 2 and len(s.turns) == 1
    s.ask("three")
    assert [m["content"] for m in api.bodies[-1]["messages"] if m["role"] == "user"] == [
        "one",
        "three",
    ]


def test_truncated_stream_is_an_error_with_the_partial_reply(api: FakeApi) -> None:
    s = evo_magic.session()
    full = answer("partial text", None)
    cut = full[: full.index(b'"finish_reason"') - 60]
    api.script.append(
        httpx.Response(200, headers={"content-type": "text/event-stream"}, content=cut)
    )
    with pytest.raises(errors.TransportError) as info:
        s.ask("q", thinking=False)
    assert info.value.reply.text == "partial text" and info.value.reply.status == "error"  # type: ignore[attr-defined]
    assert s.history == []


def test_in_band_error_event(api: FakeApi) -> None:
    body = sse_chunks(
        {"id": "x", "model": "m", "choices": [{"index": 0, "delta": {"content": "par"}}]},
        {"error": {"message": "upstream overloaded", "type": "server_error"}},
        done=False,
    )
    api.script.append(
        httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)
    )
    with pytest.raises(errors.ApiError, match="upstream overloaded") as info:
        evo_magic.session().ask("q")
    assert info.value.reply.text == "par"  # type: ignore[attr-defined]
    assert evo_magic.session().history == []


def test_keyboard_interrupt_keeps_partial_and_closes(api: FakeApi) -> None:
    closed = []

    class Stream(httpx.SyncByteStream):
        def __iter__(self):
            yield sse_chunks(
                {
                    "id": "x",
                    "model": "m",
                    "choices": [{"index": 0, "delta": {"content": "half an "}}],
                },
                done=False,
            )
            raise KeyboardInterrupt

        def close(self) -> None:
            closed.append(True)

    api.script.append(
        httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=Stream())
    )
    s = evo_magic.session()
    with pytest.raises(Interrupted) as info:
        s.ask("q")
    assert info.value.reply.text == "half an " and info.value.reply.status == "interrupted"
    assert closed == [True] and s.history == []
    assert "tokens and cost unknown" in repr(info.value.reply)  # billed, but the usage never came
    assert isinstance(info.value, KeyboardInterrupt)
    s.ask("again")  # the session still works


def test_validation_happens_before_any_request(api: FakeApi) -> None:
    s = evo_magic.session()
    for bad in (
        {"temperature": 3},
        {"max_tokens": 0},
        {"model": "gpt-4"},
        {"model": "deepseek-reasoner", "temperature": 1},
    ):
        with pytest.raises(errors.OptionError):
            s.ask("q", **bad)
    with pytest.raises(errors.OptionError):
        s.ask("   ")
    assert api.bodies == []


def test_no_key_is_a_config_error_before_any_request(
    monkeypatch: pytest.MonkeyPatch, api: FakeApi
) -> None:
    monkeypatch.delenv("EVOLINK_API_KEY")
    with pytest.raises(errors.ConfigError, match="EVOLINK_API_KEY"):
        evo_magic.session().ask("q")
    assert api.bodies == []


def test_named_sessions_are_separate_and_shared_by_name(api: FakeApi) -> None:
    a = evo_magic.session("a")
    assert evo_magic.session("a") is a and evo_magic.session() is not a
    a.ask("in a")
    assert evo_magic.session().history == [] and len(a.history) == 2
    a.reset()
    assert a.history == [] and a.turns == []


def test_session_settings_and_overrides(api: FakeApi) -> None:
    s = evo_magic.session("pro", model="deepseek-v4-pro", max_tokens=100)
    s.ask("q", max_tokens=50)
    assert api.bodies[0]["model"] == "deepseek-v4-pro" and api.bodies[0]["max_tokens"] == 50
    with pytest.raises(errors.OptionError):
        s.configure(bogus=1)


def test_one_client_per_session_reused(api: FakeApi) -> None:
    s = evo_magic.session()
    s.ask("1")
    client = s._transport.client  # type: ignore[union-attr]
    s.ask("2")
    assert s._transport.client is client  # type: ignore[union-attr]


def tool_call_stream(
    calls: list[tuple[str, str, str]], reasoning: str = "need data"
) -> httpx.Response:
    base = {"id": "t1", "model": "deepseek-v4-flash"}
    chunks = [
        {
            **base,
            "choices": [
                {
                    "index": 0,
                    "delta": {"role": "assistant", "content": None, "reasoning_content": reasoning},
                }
            ],
        }
    ]
    for i, (cid, name, args) in enumerate(calls):
        chunks.append(
            {
                **base,
                "choices": [
                    {
                        "index": 0,
                        "delta": {
                            "tool_calls": [
                                {
                                    "index": i,
                                    "id": cid,
                                    "type": "function",
                                    "function": {"name": name, "arguments": ""},
                                }
                            ]
                        },
                    }
                ],
            }
        )
        for j in range(0, len(args), 3):
            chunks.append(
                {
                    **base,
                    "choices": [
                        {
                            "index": 0,
                            "delta": {
                                "tool_calls": [
                                    {"index": i, "function": {"arguments": args[j : j + 3]}}
                                ]
                            },
                        }
                    ],
                }
            )
    chunks.append(
        {
            **base,
            "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": 50, "completion_tokens": 9},
        }
    )
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=sse_chunks(*chunks))


def test_tool_loop_runs_parallel_calls_and_feeds_results_back(api: FakeApi) -> None:
    calls_seen = []

    def temperature(city: str) -> dict:
        """Current temperature of a city."""
        return {"city": city, "celsius": 21}

    def fails(x: int) -> int:
        """Always fails."""
        raise ValueError("bad x")

    api.script.append(
        tool_call_stream(
            [("call_00_a", "temperature", '{"city": "Paris"}'), ("call_01_b", "fails", '{"x": 1}')]
        )
    )
    s = evo_magic.session()
    reply = s.ask(
        "weather?",
        tools=[temperature, fails],
        on_tool=lambda c, text, ok: calls_seen.append((c.name, text, ok)),
    )
    assert reply.text == "answer 2" and len(reply.rounds) == 2
    assert calls_seen == [
        ("temperature", '{"city": "Paris", "celsius": 21}', True),
        ("fails", "Error: ValueError: bad x", False),
    ]
    first, second = api.bodies
    assert [t["function"]["name"] for t in first["tools"]] == ["temperature", "fails"]
    msgs = second["messages"]
    assert msgs[1]["role"] == "assistant" and msgs[1]["reasoning_content"] == "need data"
    assert [m["tool_call_id"] for m in msgs[2:4]] == ["call_00_a", "call_01_b"]
    assert second["tools"] == first["tools"]  # byte-stable tool list keeps the cache prefix
    assert [m.role for m in s.history] == ["user", "assistant", "tool", "tool", "assistant"]
    assert reply.total_usage is not None and reply.total_usage.prompt_tokens == 60


def test_tool_loop_is_bounded_and_approval_can_decline(api: FakeApi) -> None:
    def ping() -> str:
        """Ping."""
        return "pong"

    for _ in range(3):
        api.script.append(tool_call_stream([("call_00_x", "ping", "{}")]))
    reply = evo_magic.session().ask(
        "loop", tools=[ping], max_tool_rounds=2, approve=lambda call: False
    )
    assert reply.status == "tool_rounds" and len(api.bodies) == 3
    assert api.bodies[1]["messages"][-1]["content"] == "Error: the user declined to run this call."
    assert evo_magic.session().history == []  # an unfinished loop adds no half turn


def text_stream(text: str, n: int = 1) -> httpx.Response:
    base = {"id": "j", "model": "deepseek-v4-flash"}
    chunks = [
        {
            **base,
            "choices": [
                {"index": i, "delta": {"content": f"{text}" if n == 1 else f"{text} #{i + 1}"}}
                for i in range(n)
            ],
        }
    ]
    chunks.append(
        {
            **base,
            "choices": [
                {"index": i, "delta": {"content": ""}, "finish_reason": "stop"} for i in range(n)
            ],
            "usage": {"prompt_tokens": 5, "completion_tokens": 5},
        }
    )
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=sse_chunks(*chunks))


def test_json_mode_parses_and_retries_once(api: FakeApi) -> None:
    api.script += [text_stream("   "), text_stream('{"a": 1}')]
    reply = evo_magic.session().ask("give me numbers", json_mode=True)
    assert reply.data == {"a": 1} and len(api.bodies) == 2
    body = api.bodies[0]
    assert body["response_format"] == {"type": "json_object"}
    assert "JSON" in body["messages"][-1]["content"]  # the word json is required by the API
    api.script += [text_stream("not json"), text_stream("still not")]
    with pytest.raises(errors.ProtocolError, match="after one retry"):
        evo_magic.session().ask("again", json_mode=True)
    assert len(evo_magic.session().history) == 2


def test_n_choices_and_pick(api: FakeApi) -> None:
    api.script.append(text_stream("option", n=3))
    s = evo_magic.session()
    reply = s.ask("names?", n=3)
    assert reply.choices == ["option #1", "option #2", "option #3"]
    assert api.bodies[0]["n"] == 3
    assert s.history[-1].content == "option #1"
    picked: list[object] = []
    root().listeners.append(lambda event: picked.append(event) if isinstance(event, TurnPicked) else None)
    s.pick(2)
    assert s.history[-1].content == "option #3" and picked == [TurnPicked(s, s.turns[-1])]  # the ledger hears of it
    assert s.turns[-1].answer == "option #3" and s.turns[-1].reply.text == "option #1"
    with pytest.raises(errors.OptionError):
        s.pick(5)


def test_rerun_cell_replaces_its_turn_and_undo(api: FakeApi) -> None:
    s = evo_magic.session()
    s.ask("first", cell_id="c1", cell=1)
    s.ask("second", cell_id="c2", cell=2)
    s.ask("first again", cell_id="c1", cell=3)  # the user re-runs cell c1
    body = api.bodies[-1]["messages"]
    assert [m["content"] for m in body if m["role"] == "user"] == ["first again"]  # only what is above it
    assert [t.prompt for t in s.turns] == ["first again", "second"]
    assert [m.content for m in s.history if m.role == "user"] == ["first again", "second"]
    s.ask("third", cell_id="c3")
    assert len(s.turns) == 3
    assert s.undo().prompt == "third" and len(s.turns) == 2
    s.undo()
    s.undo()
    with pytest.raises(errors.OptionError):
        s.undo()


def test_session_usage_counts_every_request_of_a_tool_loop(api: FakeApi) -> None:
    def ping() -> str:
        """Ping."""
        return "pong"

    api.script.append(tool_call_stream([("call_00_x", "ping", "{}")]))
    s = evo_magic.session()
    reply = s.ask("loop", tools=[ping])
    assert reply.total_usage is not None and s.usage == reply.total_usage
    assert s.usage.prompt_tokens == 60  # 50 for the tool round + 10 for the answer


def test_configure_checks_at_once_and_none_goes_back_to_the_default(api: FakeApi) -> None:
    with pytest.raises(errors.OptionError, match="unknown model 'gpt-4'"):
        evo_magic.session("scratch", model="gpt-4")
    assert "scratch" not in root().registry.sessions  # not created half-broken
    s = evo_magic.session("scratch", model="deepseek-chat")
    with pytest.raises(errors.OptionError, match="never thinks"):
        s.configure(thinking=True)
    assert s.settings == {"model": "deepseek-chat"}  # the bad change was rolled back
    s.configure(temperature=0.5)
    s.configure(temperature=None, model=None)  # back to the kernel defaults
    assert s.settings == {} and s.options().model == root().defaults.request.model


def test_max_tool_rounds_below_one_is_refused_before_sending(api: FakeApi) -> None:
    def ping() -> str:
        return "pong"

    for bad in (0, -1):
        with pytest.raises(errors.OptionError, match=f"max_tool_rounds must be at least 1, not {bad}"):
            evo_magic.session().ask("loop", tools=[ping], max_tool_rounds=bad)
    assert api.bodies == [] and evo_magic.session().turns == []


def test_a_prompt_holding_the_key_is_sent_and_kept_masked(odd_key_online: Accounting, emulator: Any) -> None:
    traceback_text = f"Traceback ...\nRuntimeError: auth failed with key {ODD_KEY}\nlone \ud800 surrogate"
    reply = evo_magic.session().ask(f"Explain this error:\n{traceback_text}", system=f"key {ODD_KEY}")
    assert reply.ok
    sent = json.dumps(emulator.requests[-1], ensure_ascii=False)
    assert ODD_KEY not in sent and "****5b4a" in sent and "\ufffd" in sent
    turns = evo_magic.session().turns
    history = repr(turns) + json.dumps([m.to_record() for t in turns for m in t.messages], ensure_ascii=False)
    assert ODD_KEY not in history
    stored = odd_key_online.ledger.turns("/work/secrets.ipynb", "default")
    assert stored and all(ODD_KEY not in json.dumps(record.messages) + record.prompt for _, record in stored)




def answer_with(monkeypatch: pytest.MonkeyPatch, protocol: str, items: list[Any]) -> None:
    """The key is :data:`OUTPUT_KEY`, and every request is answered with the stream of ``items``."""
    monkeypatch.setenv("EVOLINK_API_KEY", OUTPUT_KEY)
    monkeypatch.setenv("EVOLINK_BASE_URL", "http://127.0.0.1:9")
    root().transport_options = {"http_transport": serve(lambda body: [sse(protocol, items)])}


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_an_answer_ending_in_what_could_start_the_key_keeps_its_end(
    protocol: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    turn = Turn(text=["see e", "vlk_OUT"], reasoning=["e"], calls=[("call_1", "f", ['{"a": "evlk'])])
    answer_with(monkeypatch, protocol, payloads(protocol, turn))
    reply = evo_magic.session().ask("go", protocol=protocol)
    assert (reply.text, reply.reasoning, reply.tool_calls[0].arguments) == ("see evlk_OUT", "e", '{"a": "evlk')


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_the_key_a_server_echoes_into_the_response_id_and_model_is_shown_and_kept_nowhere(
    protocol: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evo_magic.sessions.provenance import provenance

    items = payloads(protocol, Turn(text=["Hello"]))
    echoed = json.loads(json.dumps(items).replace('"' + ID + '"', json.dumps(f"id-{OUTPUT_KEY}"))
                        .replace('"' + MODEL + '"', json.dumps(f"m-{OUTPUT_KEY}")))  # fmt: skip
    answer_with(monkeypatch, protocol, echoed)
    reply = evo_magic.session().ask("hi", protocol=protocol, cache="on")
    bundle, meta = reply._repr_mimebundle_()
    shown = repr(reply) + json.dumps(bundle) + json.dumps(provenance(reply)) + json.dumps(meta, default=str)
    assert reply.ok and reply.snapshot.model == f"m-{MASKED}" and OUTPUT_KEY not in shown
    assert OUTPUT_KEY not in home_text()  # the ledger's row, turn and kept answer


def test_over_loopback_the_emulator_can_say_it_split_at_utf16_boundaries(
    emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The emulator's "say" fault (a proxy cutting text at UTF-16 boundaries and making the model
    repeat the key): one code unit per event, so the emoji's halves and the key are split."""

    use_emulator(monkeypatch, emulator.url, "/work/said.ipynb", OUTPUT_KEY)
    for protocol in ("openai", "anthropic"):
        emulator.fail_next("say", text=f"A😀B {OUTPUT_KEY} ")
        reply = evo_magic.session().ask("What is 2+2?", protocol=protocol)
        assert reply.ok and reply.text.startswith(f"A😀B {MASKED} ") and reply.reasoning.startswith(f"A😀B {MASKED} ")
        assert OUTPUT_KEY not in json.dumps(emulator.requests[-1])  # nothing sent back holds it either
    emulator.fail_next("say", text="x")  # a non-streamed answer is left as it is
    body = {"model": "deepseek-v4-flash", "messages": [{"role": "user", "content": "hi"}], "stream": False}
    answer = httpx.post(emulator.url + "/v1/chat/completions", json=body, headers={"Authorization": "Bearer k"})
    assert not answer.json()["choices"][0]["message"]["content"].startswith("x")


# --- through the session: view, -o, history and ledger all get the text -------------------------
@pytest.fixture
def ledger(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("EVOLINK_API_KEY", "sk-stream-text-0000")
    monkeypatch.setenv("EVOLINK_BASE_URL", "http://127.0.0.1:9")
    acc = root().accounting
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
    root().transport_options = {"http_transport": serve(lambda body: [raw])}
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
    root().transport_options = {"http_transport": serve(lambda body: [raw])}
    reply = evo_magic.session().ask("hi", protocol="anthropic")
    assert reply.status == "ok" and reply.text == "Hello" and reply.error is None
    assert [m.role for m in evo_magic.session().history] == ["user", "assistant"]
    assert [r.outcome for r in ledger.rows()] == ["ok"]


def test_an_interrupted_stream_keeps_clean_text(ledger: Any) -> None:
    """A stream that ends after half a pair: the partial answer ends in U+FFFD and is recorded."""
    raw = sse("openai", payloads("openai", Turn(text=["ok \ud83d"]))[:-1])  # no finish, no usage
    root().transport_options = {"http_transport": serve(lambda body: [raw])}
    with pytest.raises(errors.TransportError) as caught:
        evo_magic.session().ask("hi")
    reply = caught.value.reply  # type: ignore[attr-defined]
    assert reply.text == "ok \ufffd" and reply.status == "error"
    assert [r.outcome for r in ledger.rows()] == ["error"]


@pytest.fixture
def emu(emulator, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("EVOLINK_API_KEY", "sk-integration-0000")
    monkeypatch.setenv("EVOLINK_BASE_URL", emulator.url)
    return emulator


def test_protocol_switch_between_turns(emu) -> None:
    s = evo_magic.session("switch")
    first = s.ask("Explain variance", protocol="openai")
    second = s.ask("And in a table?", protocol="anthropic")
    third = s.ask("Summarise", protocol="openai")
    assert first.text and second.text and third.text and second.reasoning
    body = emu.requests[-2]  # the anthropic request
    assert body["messages"][1]["content"][0]["type"] == "thinking"
    assert body["messages"][1]["content"][0]["thinking"] == first.reasoning
    last = emu.requests[-1]["messages"]
    assert last[3]["reasoning_content"] == second.reasoning  # the anthropic turn echoed back on openai
    assert second.usage is not None and second.usage.prompt_tokens > 0


def test_tools_over_anthropic(emu) -> None:
    seen = []

    def weather(city: str) -> dict:
        """Weather for a city."""
        seen.append(city)
        return {"city": city, "celsius": 18}

    reply = evo_magic.session("tools").ask("Use weather for Lisbon", protocol="anthropic", tools=[weather])
    assert seen == ["Lisbon"] and "18" in reply.text and len(reply.rounds) == 2


def test_cache_hits_grow_and_connection_is_reused(emu) -> None:
    s = evo_magic.session("cache", system="You are a meticulous statistician. " * 30)
    before = emu.accepted_connections
    hits = [s.ask(f"Question {i} about sampling").usage.cache_hit_tokens for i in range(5)]
    assert hits[0] < hits[-1] and all(h % 64 == 0 for h in hits)
    assert hits == sorted(hits)
    assert emu.accepted_connections - before == 1


def test_json_mode_over_the_wire(emu) -> None:
    reply = evo_magic.session("json").ask("List keywords", json_mode=True)
    assert reply.data["ok"] is True


def test_the_python_api_refuses_too() -> None:
    with pytest.raises(OptionError, match="did you mean 'deepseek-v4-pro'"):
        evo_magic.session().ask("hello", model="deepseek-v4-por")
    with pytest.raises(OptionError, match="unknown model"):
        RequestOptions(model="deepseek-v9-anything").validate()  # deepseek-* is no longer a pass
    for model in MODELS:
        assert RequestOptions(model=model).validate().model == model


def test_the_first_request_of_a_process_masks_a_key_it_has_not_read_before(
    emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key is read (and remembered for masking) before the prompt is scrubbed: a fresh key,
    never read in this process, is masked in the prompt of the very first request."""
    import uuid

    from ..conftest import use_emulator

    key = f"sk-fresh-{uuid.uuid4().hex}"
    use_emulator(monkeypatch, emulator.url, "/work/first-request.ipynb", key)
    s = evo_magic.session()
    s.ask(f"My key is {key}; is it safe to paste here?")
    kept = [m.content or "" for m in s.history if m.role == "user"]
    assert key not in kept[0] and key[-4:] in kept[0]
    (_, record) = root().accounting.ledger.turns(root().accounting.notebook, "default")[0]
    assert key not in record.prompt and all(key not in str(m) for m in record.messages or ())
