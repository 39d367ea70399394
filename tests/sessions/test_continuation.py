"""Prefix continuation from a session: ``ask(prefix=...)`` and ``continue_()``, on both
protocols, against the bundled emulator (its answers are deterministic: a cut answer plus its
continuation is the whole answer), with the request paths and bodies as sent."""

from __future__ import annotations

from typing import Any

import pytest

import evo_magic
from evo_magic.errors import ApiError, OptionError
from evo_magic.runtime import reset_root, root

from .helpers import Recording

QUICK_SORT = "Please write quick sort code"
WINDOWS = "Explain window functions"
PROTOCOLS = ("openai", "anthropic")


def code_of(text: str) -> str:
    return text.split("```python\n", 1)[1].split("```", 1)[0]


# --- ask(prefix=...) ------------------------------------------------------------------------


def test_a_prefix_is_the_last_message_on_the_beta_route_and_the_answer_starts_with_it(wire: Recording) -> None:
    s = evo_magic.session()
    reply = s.ask(QUICK_SORT, prefix="```python\n", stop=["```"], thinking=False)
    path, body = wire.sent[0]
    assert path == "/beta/chat/completions"
    assert body["messages"] == [
        {"role": "user", "content": QUICK_SORT},
        {"role": "assistant", "content": "```python\n", "prefix": True},
    ]
    assert body["stop"] == ["```"] and body["thinking"] == {"type": "disabled"}
    assert reply.status == "ok" and reply.text.startswith("```python\ndef ")
    compile(code_of(reply.text), "<answer>", "exec")  # bare code: the stop ended it before the fence
    [kept] = [m for m in s.history if m.role == "assistant"]
    assert kept.content == reply.text and not kept.prefix  # one assistant message: prefix + continuation
    s.ask("Thanks!", thinking=False)
    path, body = wire.sent[1]
    assert path == "/v1/chat/completions"  # the next question goes to the usual route
    assert body["messages"][1] == {"role": "assistant", "content": reply.text}  # echoed whole


def test_a_prefix_on_the_anthropic_protocol_is_a_final_assistant_turn(wire: Recording) -> None:
    s = evo_magic.session(protocol="anthropic")
    reply = s.ask(QUICK_SORT, prefix="```python\n", stop=["```"], thinking=False)
    path, body = wire.sent[0]
    assert path == "/v1/messages"
    assert body["messages"] == [
        {"role": "user", "content": QUICK_SORT},
        {"role": "assistant", "content": "```python\n"},
    ]
    assert body["stop_sequences"] == ["```"]
    assert reply.status == "ok" and reply.text.startswith("```python\n")
    compile(code_of(reply.text), "<answer>", "exec")
    s.ask("Thanks!", thinking=False)
    assert wire.bodies[1]["messages"][1] == {"role": "assistant", "content": [{"type": "text", "text": reply.text}]}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_in_thinking_mode_the_prefix_may_carry_the_start_of_the_reasoning(wire: Recording, protocol: str) -> None:
    s = evo_magic.session(protocol=protocol)
    start = "Window functions compute over a frame of rows."
    reply = s.ask(WINDOWS, prefix="", prefix_reasoning=start)
    last = wire.bodies[0]["messages"][-1]
    if protocol == "openai":
        assert last == {"role": "assistant", "content": "", "reasoning_content": start, "prefix": True}
    else:
        assert last == {"role": "assistant", "content": [{"type": "thinking", "thinking": start, "signature": ""}]}
    assert reply.status == "ok" and reply.reasoning.startswith(start) and len(reply.reasoning) > len(start)
    assert reply.text  # the answer follows the thinking
    kept = s.history[-1]
    assert kept.reasoning == reply.reasoning and kept.content == reply.text


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"prefix": ""}, "empty"),
        ({"prefix_reasoning": "Hm"}, "prefix_reasoning needs a prefix"),
        ({"prefix": "", "prefix_reasoning": "Hm", "thinking": False}, "thinking"),
        ({"prefix": "x", "tools": [len]}, "tools"),
        ({"prefix": 3}, "text"),
    ],
)
def test_a_prefix_that_cannot_be_sent_is_refused_before_any_request(
    wire: Recording, kwargs: dict[str, Any], words: str
) -> None:
    with pytest.raises(OptionError, match=words) as info:
        evo_magic.session().ask(QUICK_SORT, **kwargs)
    assert "\n" not in info.value.one_line() and wire.sent == []


def test_the_prefix_is_masked_like_a_prompt(wire: Recording) -> None:
    key = root().endpoint().key
    assert key is not None
    reply = evo_magic.session().ask(QUICK_SORT, prefix=f"key {key.reveal()}: ", thinking=False)
    sent = wire.bodies[0]["messages"][-1]["content"]
    assert key.reveal() not in sent and key.reveal() not in reply.text and sent.startswith("key ****")


# --- continue_() ----------------------------------------------------------------------------


def whole_answer(protocol: str, question: str) -> Any:
    """The emulator's whole answer to ``question`` (a session of its own)."""
    return evo_magic.session(f"whole-{protocol}", protocol=protocol).ask(question)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_continue_rescues_an_answer_whose_reasoning_used_the_budget(wire: Recording, protocol: str) -> None:
    whole = whole_answer(protocol, WINDOWS)
    s = evo_magic.session(protocol=protocol)
    cut = s.ask(WINDOWS, max_tokens=20)
    assert (cut.status, cut.text, cut.finish_reason) == ("length", "", "length") and cut.reasoning
    assert "no answer: all 20 tokens went to thinking — %deepseek continue, or raise --max-tokens" in repr(cut)
    sent = len(wire.sent)
    done = s.continue_(max_tokens=4000)
    path, body = wire.sent[sent]
    last = body["messages"][-1]
    if protocol == "openai":
        assert path == "/beta/chat/completions"
        assert last == {"role": "assistant", "content": "", "reasoning_content": cut.reasoning, "prefix": True}
    else:
        assert path == "/v1/messages" and last["role"] == "assistant"
        assert [b["type"] for b in last["content"]] == ["thinking"] and last["content"][0]["thinking"] == cut.reasoning
        assert last["content"][0]["signature"]  # the thinking block goes back signed
    assert body["messages"][:-1] == wire.bodies[sent - 1]["messages"]  # the same conversation before it
    assert done.status == "ok" and done.text == whole.text and done.reasoning == whole.reasoning
    assert len(s.turns) == 1 and s.turns[0].reply is done  # the same turn, now whole
    kept = s.history[-1]
    assert (kept.content, kept.reasoning, kept.prefix) == (whole.text, whole.reasoning, False)
    assert s.usage.completion_tokens == cut.usage.completion_tokens + done.usage.completion_tokens


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_continue_finishes_an_answer_cut_in_its_text(wire: Recording, protocol: str) -> None:
    whole = whole_answer(protocol, "Explain indexes")
    s = evo_magic.session(protocol=protocol)
    thought = evo_magic.session(f"whole-{protocol}-count").ask("Explain indexes", protocol="openai").usage
    cut = s.ask("Explain indexes", max_tokens=thought.reasoning_tokens + 7)  # the same answer on both protocols
    assert cut.status == "length" and cut.text and whole.text.startswith(cut.text) and cut.text != whole.text
    said = f"[cut at {cut.usage.completion_tokens:,} tokens"  # (the Anthropic usage has no reasoning count)
    assert said in repr(cut) and "— %deepseek continue, or raise --max-tokens]" in repr(cut)
    done = s.continue_(max_tokens=4000)
    assert wire.bodies[-1]["max_tokens"] == 4000
    assert done.text == whole.text and done.reasoning == whole.reasoning and done.status == "ok"
    assert s.history[-1].content == whole.text
    follow = s.ask("And covering indexes?")  # the continued turn passes the echo rule
    assert follow.status == "ok"
    echoed = wire.bodies[-1]["messages"]
    if protocol == "openai":
        assert echoed[1] == {"role": "assistant", "content": whole.text, "reasoning_content": whole.reasoning}


def test_the_ledger_records_both_requests_and_restore_brings_back_the_whole_answer(wire: Recording) -> None:
    s = evo_magic.session()
    cut = s.ask(WINDOWS, max_tokens=20, cell=3, cell_id="c3")
    done = s.continue_(max_tokens=4000, cell=4)
    rows = root().accounting.ledger.rows("/work/prefix.ipynb", session="default")
    assert [(r.outcome, r.cell, r.origin) for r in rows] == [("length", 3, "cell"), ("ok", 4, "cell")]
    assert [r.usage.completion_tokens for r in rows] == [cut.usage.completion_tokens, done.usage.completion_tokens]
    history = [m.to_openai() for m in s.history]

    reset_root()  # a kernel restart
    s = evo_magic.session()
    added, _ = root().accounting.restore(s)
    assert len(added) == 1 and [m.to_openai() for m in s.history] == history
    assert s.turns[0].reply.text == done.text and s.turns[0].reply.status == "ok"
    assert s.turns[0].cell_id == "c3"  # re-running that cell still replaces the continued turn


def test_a_turn_cut_again_can_be_continued_again(wire: Recording) -> None:
    whole = whole_answer("openai", WINDOWS)
    s = evo_magic.session()
    s.ask(WINDOWS, max_tokens=10)
    again = s.continue_()  # the same limit as the cut request: 10 more tokens
    assert again.status == "length" and whole.reasoning.startswith(again.reasoning)
    assert wire.bodies[-1]["max_tokens"] == 10 and again.usage.completion_tokens == 10
    done = s.continue_(max_tokens=4000)
    assert done.text == whole.text and done.reasoning == whole.reasoning and len(s.turns) == 1
    assert done.rounds == [done] and len(done.requests) == 3  # shown once, counted thrice
    assert s.usage.completion_tokens == sum(r.usage.completion_tokens for r in done.requests)


def test_continue_refuses_when_there_is_nothing_to_continue(wire: Recording) -> None:
    s = evo_magic.session()
    with pytest.raises(OptionError, match="session 'default' has no answer to continue"):
        s.continue_()
    s.ask("What is 2+2?", thinking=False)
    with pytest.raises(OptionError) as info:
        s.continue_()
    assert info.value.one_line() == (
        "the last answer of session 'default' was not cut at max_tokens (it ended with finish_reason 'stop'): "
        "there is nothing to continue"
    )
    assert len(wire.sent) == 1


def test_a_failed_continuation_leaves_the_cut_turn_as_it_was(wire: Recording, emulator: Any) -> None:
    s = evo_magic.session()
    cut = s.ask(WINDOWS, max_tokens=20)
    emulator.fail_next("500")
    root().set_default("max_retries", 0)
    with pytest.raises(ApiError):
        s.continue_()
    assert s.turns[0].reply is cut and s.history[-1].reasoning == cut.reasoning and s.history[-1].content == ""


def test_a_restored_cut_turn_is_continued_with_its_own_model_protocol_and_thinking(wire: Recording) -> None:
    whole = whole_answer("anthropic", WINDOWS)
    evo_magic.session(protocol="anthropic").ask(WINDOWS, max_tokens=20, model="deepseek-v4-flash")
    reset_root()  # a kernel restart: the reply's options are gone, the ledger has the turn
    root().transport_options = {"http_transport": (again := Recording())}
    s = evo_magic.session()  # now on the kernel default, the OpenAI protocol
    root().accounting.restore(s)
    assert s.turns[0].reply.status == "length" and s.turns[0].reply.options is None
    done = s.continue_(max_tokens=4000)
    [(path, body)] = again.sent
    assert path == "/v1/messages" and body["thinking"] == {"type": "enabled"} and body["max_tokens"] == 4000
    assert done.text == whole.text and s.history[-1].content == whole.text


def test_every_choice_starts_with_the_prefix(wire: Recording) -> None:
    reply = evo_magic.session().ask(QUICK_SORT, prefix="```python\n", stop=["```"], thinking=False, n=2)
    assert len(reply.choices) == 2 and all(c.startswith("```python\ndef ") for c in reply.choices)
    assert wire.bodies[0]["n"] == 2


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_live_view_shows_the_prefix_then_the_continuation_as_it_streams(wire: Recording, protocol: str) -> None:
    import io

    from evo_magic.display.live import TextView

    out = io.StringIO()
    updates: list[str] = []

    class Watching(TextView):
        def update(self, snapshot: Any) -> None:
            updates.append(snapshot.text)
            super().update(snapshot)

    reply = evo_magic.session(protocol=protocol).ask(
        QUICK_SORT, prefix="```python\n", stop=["```"], thinking=False, view=Watching(out, interval=0)
    )
    assert len(updates) > 3 and all(u.startswith("```python\n") for u in updates)  # the prefix from the first event
    assert updates[-1] == reply.text and out.getvalue().startswith(reply.text.strip("\n"))
    assert out.getvalue().count("```python") == 1  # written once


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_prefix_works_without_streaming_too(wire: Recording, protocol: str) -> None:
    streamed = evo_magic.session("a", protocol=protocol).ask(QUICK_SORT, prefix="```python\n", thinking=False)
    whole = evo_magic.session("b", protocol=protocol).ask(QUICK_SORT, prefix="```python\n", thinking=False, stream=False)
    assert wire.bodies[1]["stream"] is False and whole.text == streamed.text and whole.text.startswith("```python\n")


def test_a_key_cut_in_two_by_max_tokens_is_masked_in_the_continued_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cut answer ends with the first half of the key, its continuation starts with the
    rest: the whole answer (shown, in the history, the ledger and the provenance) has it masked."""
    import json

    import httpx

    from evo_magic.sessions.provenance import provenance

    from ..keys import MASKED, OUTPUT_KEY, home_text
    from .helpers import sse_chunks

    monkeypatch.setenv("EVOLINK_API_KEY", OUTPUT_KEY)
    monkeypatch.setenv("EVOLINK_BASE_URL", "http://127.0.0.1:9")
    base = {"id": "r1", "model": "deepseek-v4-flash", "object": "chat.completion.chunk"}
    halves = iter([(f"the key is {OUTPUT_KEY[:9]}", "length"), (f"{OUTPUT_KEY[9:]}, done.", "stop")])

    def handler(request: httpx.Request) -> httpx.Response:
        text, finish = next(halves)
        chunks = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": text}}]},
                  {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}],
                   "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13}}]  # fmt: skip
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=sse_chunks(*chunks))

    root().transport_options = {"http_transport": httpx.MockTransport(handler)}
    s = evo_magic.session()
    assert s.ask("the key?", thinking=False).status == "length"
    reply = s.continue_()
    assert reply.text == f"the key is {MASKED}, done."
    kept = json.dumps([m.to_record() for m in s.history]) + json.dumps(provenance(reply)) + repr(reply)
    assert OUTPUT_KEY not in kept and OUTPUT_KEY not in home_text()
