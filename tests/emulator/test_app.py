"""The bundled emulator: its pure parts directly, then over real loopback sockets with httpx
as a raw client, compared with the recorded DeepSeek wire bodies."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
import uuid

import httpx
import pytest

from evo_magic.emulator import Emulator, validate
from evo_magic.emulator.answers import Plan, arithmetic, choose_tools, plan, requested_size, tool_arguments
from evo_magic.emulator.encode import cut
from evo_magic.emulator.tokens import PrefixCache, count, tokenize

from .conftest import recording

ECHO = "The reasoning_content in the thinking mode must be passed back to the API."
WEATHER = {
    "type": "function",
    "function": {
        "name": "weather",
        "description": "Gets current weather for a location",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def key() -> dict[str, str]:
    """A fresh API key: its own prefix cache and reasoning memory."""
    return {"Authorization": f"Bearer sk-test-{uuid.uuid4().hex[:8]}"}


H = key()


@pytest.fixture(scope="module")
def emu():
    with Emulator() as e:
        yield e


@pytest.fixture
def client():
    with httpx.Client(timeout=30) as c:
        yield c


def post(client, emu, headers=H, **body):
    body.setdefault("model", "deepseek-v4-flash")
    body.setdefault("messages", [{"role": "user", "content": "Explain joins"}])
    return client.post(emu.url + "/v1/chat/completions", headers=headers, json=body)


def stream(client, emu, headers=H, **body) -> str:
    body.setdefault("model", "deepseek-v4-flash")
    body.setdefault("messages", [{"role": "user", "content": "Explain joins"}])
    body["stream"] = True
    with client.stream("POST", emu.url + "/v1/chat/completions", headers=headers, json=body) as r:
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert r.headers["cache-control"] == "no-cache" and r.headers["x-request-id"]
        return r.read().decode()


def events(text: str) -> list[dict]:
    blocks = text.split("\n\n")
    assert blocks[-2:] == ["data: [DONE]", ""]
    return [json.loads(b[6:]) for b in blocks if b.startswith("data: {")]


def joined(chunks: list[dict], field: str) -> str:
    return "".join(c["choices"][0]["delta"].get(field) or "" for c in chunks)


def shape(value):
    """Keys (in order) and value types of a JSON value, for comparison with recordings."""
    if isinstance(value, dict):
        return [(k, shape(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [shape(v) for v in value[:1]]
    return type(value).__name__


def recorded_events(name: str) -> list[dict]:
    return events(recording(name)["response"].decode())


# --- pure parts -----------------------------------------------------------------------------


def test_tokenizer_is_lossless_and_word_like() -> None:
    text = "Hello, world!\n\n```py\nx = {'a': 1}\n```  " + "a" * 30
    assert "".join(tokenize(text)) == text
    assert tokenize("Hello, world!\n") == ["Hello", ",", " world", "!", "\n"]
    assert count("a b c") == 3 and count("a" * 30) == 3 and count(None) == 0


def test_prefix_cache_counts_whole_64_token_blocks_per_key() -> None:
    cache = PrefixCache(per_key=2)
    seq = [f" t{i}" for i in range(300)]
    assert cache.hit("k", seq) == 0
    cache.remember("k", seq[:200])
    assert cache.hit("k", seq) == 192 and cache.hit("other", seq) == 0
    assert cache.hit("k", [*seq[:130], " changed", *seq[131:]]) == 128
    cache.remember("k", seq, [" x"] * 64)
    assert cache.hit("k", seq) == 256  # the 200-token sequence was evicted, the 300 one counts
    cache.remember("k", [" y"] * 64)
    assert cache.hit("k", seq) == 0 and cache.hit("k", [" y"] * 70) == 64


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"model": "gpt-4"}, "Model Not Exist"),
        ({"model": None}, "`model`"),
        ({"model": 3}, "model: invalid type"),
        ({"messages": None}, "`messages`"),
        ({"messages": "hi"}, "messages: invalid type"),
        ({"messages": []}, "messages"),
        ({"messages": ["hi"]}, "messages[0]: invalid type"),
        ({"messages": [{"content": "x"}]}, "missing field `role`"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role: unknown variant `robot`"),
        ({"messages": [{"role": "user"}]}, "missing field `content`"),
        ({"messages": [{"role": "user", "content": 5}]}, "content: invalid type"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "tool_call_id"),
        ({"messages": [{"role": "assistant"}]}, "missing field `content`"),
        ({"temperature": 2.5}, "temperature"),
        ({"temperature": "hot"}, "temperature: invalid type"),
        ({"top_p": -0.1}, "top_p"),
        ({"frequency_penalty": -2.1}, "frequency_penalty"),
        ({"presence_penalty": 3}, "presence_penalty"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": 384001}, "max_tokens"),
        ({"max_tokens": 1.5}, "max_tokens: invalid type"),
        ({"stop": ["x"] * 17}, "stop"),
        ({"stop": 3}, "stop: invalid type"),
        ({"n": 9}, "n value"),
        ({"n": 0}, "n value"),
        ({"top_logprobs": 21, "logprobs": True}, "top_logprobs"),
        ({"top_logprobs": 3}, "logprobs must be true"),
        ({"logit_bias": {"12": 200}}, "logit_bias"),
        ({"logit_bias": [1]}, "logit_bias: invalid type"),
        ({"tools": [WEATHER] * 129}, "tools"),
        ({"tools": [{"type": "function"}]}, "tools[0]"),
        ({"stream_options": {"include_usage": True}}, "stream = true"),
        ({"stream": True, "stream_options": "yes"}, "stream_options: invalid type"),
        ({"thinking": {"type": "sometimes"}}, "thinking.type"),
        ({"response_format": {"type": "xml"}}, "response_format"),
        ({"model": "deepseek-reasoner", "temperature": 1}, "temperature"),
        ({"model": "deepseek-reasoner", "top_p": 1}, "top_p"),
        ({"model": "deepseek-reasoner", "tools": [WEATHER]}, "tools"),
        ({"model": "deepseek-reasoner", "tool_choice": "auto"}, "tool_choice"),
        ({"model": "deepseek-reasoner", "response_format": {"type": "json_object"}}, "response_format"),
        ({"tools": [WEATHER], "tool_choice": "required"}, "thinking mode"),
        ({"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "weather"}}}, "thinking"),
    ],
)
def test_each_validation_rule(change: dict, fragment: str) -> None:
    body = {"model": "deepseek-v4-flash", "messages": [{"role": "user", "content": "hi"}], **change}
    body = {k: v for k, v in body.items() if v is not None}
    problem = validate.check_chat(body)
    assert problem is not None and fragment in problem


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"model": "deepseek-chat", "temperature": 0, "top_p": 1, "tools": [WEATHER], "tool_choice": "required"},
        {"thinking": {"type": "disabled"}, "tools": [WEATHER], "tool_choice": {"function": {"name": "weather"}}},
        {"max_tokens": 384000, "stop": "x", "n": 8, "logprobs": True, "top_logprobs": 20, "logit_bias": {"1": -100}},
        {"stream": True, "stream_options": {"include_usage": True}, "response_format": {"type": "json_object"}},
        {
            "messages": [
                {"role": "developer", "content": "d"},
                {"role": "user", "content": [{"type": "text", "text": "u"}]},
            ]
        },
        {"messages": [{"role": "assistant", "content": None, "reasoning_content": "", "tool_calls": []}]},
    ],
)
def test_valid_bodies_pass(change: dict) -> None:
    assert (
        validate.check_chat({"model": "deepseek-v4-pro", "messages": [{"role": "user", "content": "hi"}], **change})
        is None
    )


def test_thinking_defaults() -> None:
    on = validate.thinking_on
    assert on({"model": "deepseek-v4-flash"}) and on({"model": "deepseek-v4-pro", "thinking": {"type": "enabled"}})
    assert not on({"model": "deepseek-v4-pro", "thinking": {"type": "disabled"}})
    assert on({"model": "deepseek-reasoner", "thinking": {"type": "disabled"}})
    assert not on({"model": "deepseek-chat", "thinking": {"type": "enabled"}})


def test_answers_are_deterministic_markdown_quoting_the_question() -> None:
    a = plan([("user", "Explain joins")], thinking=True)
    assert a == plan([("user", "Explain joins")], thinking=True)
    assert a.content != plan([("user", "Explain windows")], thinking=True).content
    assert a.content != plan([("user", "Explain joins")], thinking=True, choice=1).content
    assert "“Explain joins”" in a.content and a.content.startswith("**")
    for feature in ("### ", "**", "\n- ", "\n1. ", "```python\n", "| --- |"):
        assert feature in a.content
    assert a.reasoning and "Explain joins" in a.reasoning
    assert plan([("user", "Explain joins")], thinking=False).reasoning is None
    assert "<b>" in plan([("user", "Explain <b>bold</b> joins")], thinking=False).content  # nothing escaped


@pytest.mark.parametrize(
    ("question", "value"),
    [("What is 2+2?", "4"), ("What is 2 + 2? Answer with just the number.", "4"), ("Compute (3+4)*2/7", "2")],
)
def test_arithmetic(question: str, value: str) -> None:
    assert arithmetic(question) is not None and arithmetic(question)[1] == value  # type: ignore[index]
    assert plan([("user", question)], thinking=False).content.startswith(f"**{value}**\n\n")


def test_no_arithmetic_in_prose() -> None:
    assert arithmetic("Explain the 80/20 rule in project management with examples from data teams and more") is None
    assert arithmetic("Explain joins") is None


@pytest.mark.parametrize(
    ("question", "unit", "n"),
    [
        ("Write 20000 characters on data", "characters", 20000),
        ("Write an essay of 2,000 words about pandas", "words", 2000),
        ("Give me 5k tokens on joins", "tokens", 5000),
    ],
)
def test_requested_sizes(question: str, unit: str, n: int) -> None:
    assert requested_size(question) == (unit, n)
    p = plan([("user", question)], thinking=True)
    size = {"characters": len, "words": lambda s: len(s.split()), "tokens": count}[unit](p.content)
    assert 0.97 * n <= size <= 1.01 * n
    assert p.content.count("```") % 2 == 0 and p.content.count("\n### ") >= 3
    assert sum(f in p.content for f in ("```sql", "```bash", "```json", "\n> ", "|:---")) >= 2  # varied sections
    assert 0.2 * len(p.content) <= len(p.reasoning or "") <= 0.35 * len(p.content)


def test_json_answers() -> None:
    asked = plan([("user", "Reply in JSON: what are joins?")], thinking=False)
    assert json.loads(asked.content)["ok"] is True
    assert json.loads(plan([("user", "list keywords")], thinking=True, json_mode=True).content)["ok"] is True


def test_tool_choice_and_arguments() -> None:
    berlin = {"type": "object", "properties": {"latitude": {"type": "string", "description": "e.g. 52.52"}}}
    tools = [
        WEATHER,
        {"function": {"name": "best_language", "description": "Best language to learn", "parameters": {}}},
    ]
    assert [f["name"] for f in choose_tools(tools, "Use weather and best_language")] == ["weather", "best_language"]
    assert [f["name"] for f in choose_tools(tools, "What is the location of the museum?")] == ["weather"]
    assert choose_tools(tools, "Tell me a joke") == [] and choose_tools(tools, "weather?", "none") == []
    assert [f["name"] for f in choose_tools(tools, "Tell me a joke", "required")] == ["weather"]
    rng = random.Random(0)
    assert tool_arguments(berlin, ["Berlin"], ["52.52", "13.40"], rng) == {"latitude": "52.52"}
    p = plan([("user", "Use weather for Paris")], thinking=True, tools=tools)
    assert p.finish_reason == "tool_calls" and json.loads(p.tool_calls[0]["arguments"]) == {"city": "Paris"}
    assert p.tool_calls[0]["id"].startswith("call_00_") and len(p.tool_calls[0]["id"]) == 32
    after = plan([("user", "Use weather for Paris"), ("assistant", "…"), ("tool", '{"celsius": 21}')], thinking=True)
    assert '{"celsius": 21}' in after.content and after.finish_reason == "stop"


def test_cut_to_max_tokens_and_stop() -> None:
    p = Plan("one two three four", reasoning="a b c")
    assert cut(p, 2, []).content == [] and cut(p, 2, []).finish_reason == "length"
    r = cut(p, 5, [])
    assert r.content == ["one", " two"] and r.finish_reason == "length" and r.completion_tokens == 5
    s = cut(p, None, [" three"])
    assert "".join(s.content) == "one two" and s.finish_reason == "stop"


# --- over loopback --------------------------------------------------------------------------


def test_errors_have_the_vendor_shape(client, emu) -> None:
    r = post(client, emu, model="gpt-4")
    assert r.status_code == 400 and r.json() == json.loads(recording("error_400_model_not_exist")["response"])
    bad = client.post(emu.url + "/v1/chat/completions", headers=H, content=b"{not json")
    assert bad.status_code == 400 and bad.json()["error"]["message"].startswith("Failed to parse the request body")
    hot = post(client, emu, temperature=5).json()["error"]
    assert set(hot) == {"message", "type", "param", "code"} and hot["type"] == hot["code"] == "invalid_request_error"
    assert client.get(emu.url + "/v1/models").status_code == 404
    wrong = client.get(emu.url + "/v1/chat/completions")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST" and wrong.json()["error"]["message"]


def test_auth_401_like_the_recording(client, emu) -> None:
    expected = json.loads(recording("error_401_auth")["response"])
    assert post(client, emu, headers={"Authorization": "Bearer test-key"}).status_code == 200  # any key but "invalid"
    for headers in ({}, {"Authorization": "Bearer invalid"}):
        denied = post(client, emu, headers=headers)
        assert denied.status_code == 401 and shape(denied.json()) == shape(expected)
    with Emulator(api_keys={"sk-only-this-key"}) as strict:
        assert post(client, strict, headers={"Authorization": "Bearer sk-only-this-key"}).status_code == 200
        bad = post(client, strict, headers={"Authorization": "Bearer sk-other-test-key"})
        assert bad.status_code == 401 and bad.json() == expected  # masked to "****-key", as recorded


def test_nonstreamed_bodies_like_the_recordings(client, emu) -> None:
    on = post(client, emu, headers=key(), messages=[{"role": "user", "content": "What is 2 + 2?"}])
    assert on.text.startswith("\n{")  # DeepSeek's queue keep-alive line precedes the JSON
    body = on.json()
    assert shape(body) == shape(json.loads(recording("thinking_enabled_effort_high")["response"]))
    assert body["choices"][0]["message"]["content"].startswith("**4**")
    assert body["system_fingerprint"] == "fp_evolink_v4_20260402" and uuid.UUID(body["id"]).version == 4
    off = post(client, emu, headers=key(), thinking={"type": "disabled"}).json()
    assert shape(off) == shape(json.loads(recording("thinking_disabled")["response"]))
    legacy = post(client, emu, model="deepseek-reasoner").json()
    assert legacy["model"] == "deepseek-v4-flash" and legacy["choices"][0]["message"]["reasoning_content"]
    assert "reasoning_content" not in post(client, emu, model="deepseek-chat").json()["choices"][0]["message"]
    assert post(client, emu, model="deepseek-v4-pro").json()["model"] == "deepseek-v4-pro"


def test_streams_like_the_recordings(client, emu) -> None:
    text = stream(client, emu, stream_options={"include_usage": True})
    assert text.startswith(": keep-alive\n\n")
    chunks, rec = events(text), recorded_events("stream_thinking_reasoner")
    reasoning_at = next(i for i, c in enumerate(chunks) if c["choices"][0]["delta"].get("content"))
    for ours, theirs in ((0, 0), (1, 1), (reasoning_at, -2), (-1, -1)):
        assert shape(chunks[ours]) == shape(rec[theirs])
        assert chunks[ours]["choices"][0]["delta"].keys() == rec[theirs]["choices"][0]["delta"].keys()
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": None, "reasoning_content": ""}
    assert all(c["usage"] is None for c in chunks[:-1]) and chunks[-1]["choices"][0]["finish_reason"] == "stop"

    plain = events(stream(client, emu, thinking={"type": "disabled"}, stream_options={"include_usage": True}))
    rec = recorded_events("stream_basic_nonthinking")
    assert [shape(plain[i]) for i in (0, 1, -1)] == [shape(rec[i]) for i in (0, 1, -1)]
    bare = events(stream(client, emu, thinking={"type": "disabled"}))
    rec = recorded_events("stream_basic_no_stream_options")
    assert [shape(bare[i]) for i in (0, 1, -1)] == [shape(rec[i]) for i in (0, 1, -1)]
    assert all("usage" not in c for c in bare[:-1]) and bare[-1]["usage"]["total_tokens"] > 0
    assert all(len(c["choices"][0]["delta"].get("content") or "") < 40 for c in bare)  # about a token each


def test_streamed_and_nonstreamed_agree(client, emu) -> None:
    question = [{"role": "user", "content": "Explain window functions"}]
    for extra in ({}, {"thinking": {"type": "disabled"}}, {"max_tokens": 60}):
        chunks = events(stream(client, emu, headers=key(), messages=question, **extra))
        body = post(client, emu, headers=key(), messages=question, **extra).json()
        msg = body["choices"][0]["message"]
        assert joined(chunks, "content") == msg["content"]
        assert joined(chunks, "reasoning_content") == msg.get("reasoning_content", "")
        assert chunks[-1]["usage"] == body["usage"]
        assert chunks[-1]["choices"][0]["finish_reason"] == body["choices"][0]["finish_reason"]


def test_cache_hits_grow_over_an_append_only_conversation(client, emu) -> None:
    h = key()
    messages = [
        {"role": "system", "content": "You are a careful data scientist. " * 20},
        {"role": "user", "content": "Explain the bias-variance trade-off"},
    ]
    hits, prompts = [], []
    for turn in range(3):
        body = post(client, emu, headers=h, messages=messages).json()
        u = body["usage"]
        assert u["prompt_cache_hit_tokens"] % 64 == 0
        assert u["prompt_cache_hit_tokens"] + u["prompt_cache_miss_tokens"] == u["prompt_tokens"]
        assert u["prompt_tokens_details"]["cached_tokens"] == u["prompt_cache_hit_tokens"]
        billed = emu.state.billing.counter  # DeepSeek's tokenizer when installed
        content = body["choices"][0]["message"]["content"]
        in_content = billed.count(content) if billed else count(content)
        assert u["completion_tokens"] == u["completion_tokens_details"]["reasoning_tokens"] + in_content
        hits.append(u["prompt_cache_hit_tokens"])
        prompts.append(u["prompt_tokens"])
        msg = body["choices"][0]["message"]
        messages += [
            {"role": "assistant", "content": msg["content"], "reasoning_content": msg["reasoning_content"]},
            {"role": "user", "content": f"And for trees, part {turn}?"},
        ]
    assert hits[0] == 0 and hits[0] < hits[1] < hits[2]
    assert hits[1] > prompts[0] - 79 + 100  # turn 1's prompt and its answer were cached
    same = post(client, emu, headers=h, messages=messages[:2]).json()["usage"]
    assert same["prompt_cache_hit_tokens"] == (same["prompt_tokens"] - 79) // 64 * 64  # all but the hidden tokens
    assert post(client, emu, headers=key(), messages=messages[:2]).json()["usage"]["prompt_cache_hit_tokens"] == 0


def test_reasoning_echo_rule(client, emu) -> None:
    h = key()
    q = [{"role": "user", "content": "Explain the echo rule please"}]
    msg = post(client, emu, headers=h, messages=q).json()["choices"][0]["message"]
    more = {"role": "user", "content": "more"}
    for echoed in ({}, {"reasoning_content": "edited"}, {"reasoning_content": None}):
        r = post(
            client, emu, headers=h, messages=[*q, {"role": "assistant", "content": msg["content"], **echoed}, more]
        )
        assert r.status_code == 400 and r.json()["error"]["message"] == ECHO
    ok = {"role": "assistant", "content": msg["content"], "reasoning_content": msg["reasoning_content"]}
    assert post(client, emu, headers=h, messages=[*q, ok, more]).status_code == 200
    other_key = post(client, emu, headers=key(), messages=[*q, {"role": "assistant", "content": msg["content"]}, more])
    assert other_key.status_code == 200  # the memory is per API key
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    turn = [
        *q,
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c", "content": "1"},
    ]
    r = post(client, emu, headers=h, messages=turn)
    assert r.status_code == 400 and r.json()["error"]["message"] == ECHO
    assert post(client, emu, headers=h, messages=turn, thinking={"type": "disabled"}).status_code == 200
    turn[1]["reasoning_content"] = ""
    assert post(client, emu, headers=h, messages=turn).status_code == 200


def test_max_tokens_and_stop(client, emu) -> None:
    short = post(client, emu, max_tokens=5).json()
    assert short["choices"][0]["finish_reason"] == "length" and short["usage"]["completion_tokens"] == 5
    assert short["choices"][0]["message"]["content"] == ""  # reasoning used all of it
    chunks = events(stream(client, emu, max_tokens=5))
    assert chunks[-1]["choices"][0]["finish_reason"] == "length" and joined(chunks, "content") == ""
    stopped = post(client, emu, thinking={"type": "disabled"}, stop=["```"]).json()["choices"][0]
    assert "```" not in stopped["message"]["content"] and stopped["finish_reason"] == "stop"
    assert stopped["message"]["content"].startswith("**")


def test_tool_calls_n_and_logprobs(client, emu) -> None:
    body = post(client, emu, tools=[WEATHER], messages=[{"role": "user", "content": "Use weather for Paris"}]).json()
    choice = body["choices"][0]
    call = choice["message"]["tool_calls"][0]
    rec = json.loads(recording("nonstream_parallel_tool_calls")["response"])["choices"][0]["message"]["tool_calls"][0]
    assert shape(call) == shape(rec) and choice["finish_reason"] == "tool_calls"
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}
    msgs = [{"role": "user", "content": "Check the weather for Oslo"}]
    chunks = events(stream(client, emu, tools=[WEATHER], messages=msgs, thinking={"type": "disabled"}))
    deltas = [c["choices"][0]["delta"]["tool_calls"][0] for c in chunks if "tool_calls" in c["choices"][0]["delta"]]
    assert deltas[0]["id"].startswith("call_00_") and deltas[0]["function"] == {"name": "weather", "arguments": ""}
    assert json.loads("".join(d["function"]["arguments"] for d in deltas)) == {"city": "Oslo"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    multi = post(client, emu, n=3, thinking={"type": "disabled"}).json()
    assert len({c["message"]["content"] for c in multi["choices"]}) == 3 and [c["index"] for c in multi["choices"]] == [
        0,
        1,
        2,
    ]
    lp = post(client, emu, thinking={"type": "disabled"}, logprobs=True, top_logprobs=2).json()["choices"][0][
        "logprobs"
    ]
    assert {"token", "logprob", "bytes", "top_logprobs"} <= set(lp["content"][0]) and len(
        lp["content"][0]["top_logprobs"]
    ) == 2


def test_context_length(client, emu) -> None:
    r = post(client, emu, messages=[{"role": "user", "content": "x " * 1_048_600}])
    assert r.status_code == 400 and "maximum context length is 1048565 tokens" in r.json()["error"]["message"]


def test_connection_reuse(client, emu) -> None:
    before = emu.accepted_connections
    for i in range(20):
        if i % 2:
            assert post(client, emu, thinking={"type": "disabled"}).status_code == 200
        else:
            assert stream(client, emu).endswith("data: [DONE]\n\n")
    assert emu.accepted_connections - before == 1


def test_injected_faults(client, emu) -> None:
    emu.fail_next("429", retry_after=2)
    r = post(client, emu)
    assert r.status_code == 429 and r.headers["retry-after"] == "2"
    emu.fail_next("error_event", after=3)
    text = stream(client, emu)
    assert '"error"' in text and "[DONE]" not in text
    with pytest.raises(ValueError):
        emu.fail_next("meteor")
    emu.fail_next("429", retry_after="Sat, 02 May 2026 14:05:00 GMT")  # an HTTP date, sent as it is
    assert post(client, emu).headers["retry-after"] == "Sat, 02 May 2026 14:05:00 GMT"


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/messages"])
def test_gzip_fault_sends_bytes_that_are_not_gzip(client, emu, path: str) -> None:
    body = {"model": "deepseek-v4-flash", "max_tokens": 500, "messages": [{"role": "user", "content": "Explain joins"}]}
    emu.fail_next("gzip", after=3)
    lines: list[str] = []
    with client.stream("POST", emu.url + path, headers=H, json={**body, "stream": True}) as r:
        assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
        with pytest.raises(httpx.DecodingError):
            lines.extend(r.iter_lines())
    assert len([line for line in lines if line.startswith("data: ")]) == 3  # the first events decode
    emu.fail_next("gzip")
    with pytest.raises(httpx.DecodingError):
        client.post(emu.url + path, headers=H, json=body)  # not streamed: corrupt from the start
    emu.fail_next("gzip", status=503)
    with client.stream("POST", emu.url + path, headers=H, json=body) as r:
        assert r.status_code == 503 and r.headers["content-encoding"] == "gzip"
        with pytest.raises(httpx.DecodingError):
            r.read()
    assert client.post(emu.url + path, headers=H, json=body).status_code == 200  # one request each


def test_unthrottled_rate(client, emu) -> None:
    body = {"thinking": {"type": "disabled"}, "messages": [{"role": "user", "content": "Write 60000 characters"}]}
    stream(client, emu, **body)  # warm-up
    t = time.perf_counter()
    n = len(events(stream(client, emu, **body)))
    assert n > 10_000 and n / (time.perf_counter() - t) > 5000


def test_pace_and_first_token_delay() -> None:
    with Emulator(tokens_per_second=400, first_token_delay=1.1) as slow, httpx.Client() as c:
        t = time.monotonic()
        text = stream(c, slow, thinking={"type": "disabled"}, messages=[{"role": "user", "content": "Write 150 words"}])
        took = time.monotonic() - t - 1.1
        assert text.startswith(": keep-alive\n\n: keep-alive\n\ndata: ")  # one now, one after a second
        n = len(events(text))
        assert n / 400 * 0.8 <= took <= n / 400 * 1.5 + 0.3
        t = time.monotonic()
        r = post(c, slow, thinking={"type": "disabled"}, messages=[{"role": "user", "content": "What is 2+2?"}])
        assert r.text.startswith("\n\n{") and time.monotonic() - t >= 1.1 and r.json()["usage"]


def test_loopback_only_and_command_line() -> None:
    with pytest.raises(ValueError, match="loopback"):
        Emulator(host="0.0.0.0")
    refused = subprocess.run(
        [sys.executable, "-m", "evo_magic.emulator", "--host", "0.0.0.0"], capture_output=True, text=True, timeout=30
    )
    assert refused.returncode == 2 and "loopback only" in refused.stderr
    with subprocess.Popen([sys.executable, "-m", "evo_magic.emulator"], stdout=subprocess.PIPE, text=True) as proc:
        try:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            assert line.startswith("evo_magic emulator listening on http://127.0.0.1:")
            body = {"model": "deepseek-chat", "messages": [{"role": "user", "content": "hi"}]}
            assert httpx.post(line.split()[-1] + "/v1/chat/completions", headers=H, json=body).status_code == 200
        finally:
            proc.terminate()
