"""Session semantics over an httpx.MockTransport fake of the API (no sockets)."""

from __future__ import annotations

import json

import httpx
import pytest

import evo_magic
from evo_magic import errors
from evo_magic.sessions.registry import registry
from evo_magic.sessions.reply import Interrupted


def sse(*chunks: dict, done: bool = True) -> bytes:
    out = b": keep-alive\n\n" + b"".join(
        b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks
    )
    return out + (b"data: [DONE]\n\n" if done else b"")


def answer(text: str, reasoning: str | None, n_prompt: int = 10) -> bytes:
    base = {"id": "r1", "model": "deepseek-v4-flash", "object": "chat.completion.chunk"}
    chunks = []
    if reasoning is not None:
        chunks.append(
            {
                **base,
                "choices": [
                    {
                        "index": 0,
                        "delta": {"role": "assistant", "content": None, "reasoning_content": ""},
                    }
                ],
            }
        )
        chunks.append(
            {
                **base,
                "choices": [
                    {"index": 0, "delta": {"content": None, "reasoning_content": reasoning}}
                ],
            }
        )
    chunks.append({**base, "choices": [{"index": 0, "delta": {"content": text}}]})
    usage = {
        "prompt_tokens": n_prompt,
        "completion_tokens": 5,
        "prompt_cache_hit_tokens": 0,
        "prompt_cache_miss_tokens": n_prompt,
    }
    if reasoning is not None:
        usage["completion_tokens_details"] = {"reasoning_tokens": 3}
    chunks.append(
        {
            **base,
            "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "stop"}],
            "usage": usage,
        }
    )
    return sse(*chunks)


class FakeApi:
    """Answers "answer N" (with reasoning when thinking is on) and records request bodies."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.script: list = []  # optional queued responses / exceptions

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        if self.script:
            item = self.script.pop(0)
            if isinstance(item, Exception):
                raise item
            return item
        n = len(self.bodies)
        thinking = body.get("thinking", {}).get("type") != "disabled"
        return httpx.Response(
            200,
            headers={"content-type": "text/event-stream"},
            content=answer(f"answer {n}", f"reasoning {n}" if thinking else None),
        )


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> FakeApi:
    monkeypatch.setenv("EVOLINK_API_KEY", "sk-session-test-0000")
    monkeypatch.setenv("EVOLINK_BASE_URL", "http://127.0.0.1:9")
    fake = FakeApi()
    registry().transport_kwargs = {"http_transport": httpx.MockTransport(fake)}
    return fake


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
    body = sse(
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
            yield sse(
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


def test_listeners_see_turns_and_a_broken_listener_does_not_break_asking(api: FakeApi) -> None:
    seen = []
    registry().listeners.append(lambda kind, session, payload: seen.append(kind))
    registry().listeners.append(lambda kind, session, payload: 1 / 0)
    evo_magic.session().ask("q")
    assert seen == ["session", "start", "request", "turn"]


def test_find_looks_a_session_up_without_creating_it() -> None:
    seen = []
    registry().listeners.append(lambda kind, session, payload: seen.append((kind, session.name)))
    with pytest.raises(errors.OptionError, match=r"no session 'ghost'; sessions: default$"):
        registry().find("ghost")
    assert registry().find() is registry().get("default")  # the default session always exists
    scratch = evo_magic.session("scratch")
    assert registry().find("scratch") is scratch
    with pytest.raises(errors.OptionError, match="sessions: default, scratch"):
        registry().find("ghost")
    assert "ghost" not in registry().sessions and ("session", "ghost") not in seen


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
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=sse(*chunks))


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
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=sse(*chunks))


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
    picked: list[str] = []
    registry().listeners.append(lambda kind, session, payload: picked.append(kind) if kind == "pick" else None)
    s.pick(2)
    assert s.history[-1].content == "option #3" and picked == ["pick"]  # the ledger hears of it
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
    assert "scratch" not in registry().sessions  # not created half-broken
    s = evo_magic.session("scratch", model="deepseek-chat")
    with pytest.raises(errors.OptionError, match="never thinks"):
        s.configure(thinking=True)
    assert s.settings == {"model": "deepseek-chat"}  # the bad change was rolled back
    s.configure(temperature=0.5)
    s.configure(temperature=None, model=None)  # back to the kernel defaults
    assert s.settings == {} and s.options().model == registry().defaults.model


def test_max_tool_rounds_below_one_is_refused_before_sending(api: FakeApi) -> None:
    def ping() -> str:
        return "pong"

    for bad in (0, -1):
        with pytest.raises(errors.OptionError, match=f"max_tool_rounds must be at least 1, not {bad}"):
            evo_magic.session().ask("loop", tools=[ping], max_tool_rounds=bad)
    assert api.bodies == [] and evo_magic.session().turns == []
