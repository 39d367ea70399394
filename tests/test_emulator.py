"""The bundled emulator over real loopback sockets, with httpx as a raw client."""

from __future__ import annotations

import json

import httpx
import pytest

from evo_magic.emulator import Emulator
from evo_magic.emulator.answers import plan
from evo_magic.emulator.tokens import count, tokenize

H = {"Authorization": "Bearer sk-emulator-test-0001"}


@pytest.fixture(scope="module")
def emu():
    with Emulator() as e:
        yield e


@pytest.fixture
def client():
    with httpx.Client(timeout=30) as c:
        yield c


def chat(client, emu, **body):
    body.setdefault("model", "deepseek-v4-flash")
    body.setdefault("messages", [{"role": "user", "content": "Explain joins"}])
    return client.post(emu.url + "/v1/chat/completions", headers=H, json=body)


def stream(client, emu, **body):
    body.setdefault("model", "deepseek-v4-flash")
    body.setdefault("messages", [{"role": "user", "content": "Explain joins"}])
    body["stream"] = True
    raw = []
    with client.stream("POST", emu.url + "/v1/chat/completions", headers=H, json=body) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        for chunk in r.iter_bytes():
            raw.append(chunk)
    return b"".join(raw).decode()


def payloads(text: str) -> list[dict]:
    out = []
    for block in text.split("\n\n"):
        if block.startswith("data: ") and block != "data: [DONE]":
            out.append(json.loads(block[6:]))
    return out


def test_tokenizer_is_lossless() -> None:
    text = "Hello, world!\n\n```py\nx = {'a': 1}\n```  "
    assert "".join(tokenize(text)) == text and count("a b c") == 3


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"model": "gpt-4"}, "Model Not Exist"),
        ({"model": None}, "model"),
        ({"messages": []}, "messages"),
        ({"temperature": 2.5}, "temperature"),
        ({"top_p": -0.1}, "top_p"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": 400000}, "max_tokens"),
        ({"presence_penalty": 3}, "presence_penalty"),
        ({"stop": ["x"] * 17}, "stop"),
        ({"n": 9}, "n"),
        ({"top_logprobs": 3}, "logprobs"),
        ({"logit_bias": {"12": 200}}, "logit_bias"),
        ({"stream_options": {"include_usage": True}}, "stream"),
        ({"thinking": {"type": "sometimes"}}, "thinking"),
        ({"model": "deepseek-reasoner", "temperature": 1}, "temperature"),
        ({"model": "deepseek-reasoner", "response_format": {"type": "json_object"}}, "response_format"),
        ({"tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "required"}, "thinking"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "role"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "tool_call_id"),
    ],
)
def test_validation_answers_vendor_400(client, emu, body: dict, fragment: str) -> None:
    r = chat(client, emu, **body)
    assert r.status_code == 400
    err = r.json()["error"]
    assert fragment.lower() in err["message"].lower() and err["type"] == "invalid_request_error"


def test_auth(client, emu) -> None:
    r = client.post(emu.url + "/v1/chat/completions", json={"model": "deepseek-v4-flash", "messages": []})
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
    r = client.post(emu.url + "/v1/chat/completions", headers={"Authorization": "Bearer invalid"}, json={})
    assert r.status_code == 401 and "****" in r.json()["error"]["message"]
    with Emulator(api_keys={"only-this-key"}) as strict:
        bad = client.post(strict.url + "/v1/chat/completions", headers=H, json={})
        assert bad.status_code == 401 and "0001" in bad.json()["error"]["message"]
        assert "sk-emulator" not in bad.text


def test_nonstreamed_thinking_and_not(client, emu) -> None:
    on = chat(client, emu)
    assert on.text.startswith("\n")  # a queued-keep-alive blank line precedes the JSON
    body = on.json()
    msg = body["choices"][0]["message"]
    assert msg["reasoning_content"] and "###" in msg["content"] and "```python" in msg["content"]
    assert "| --- |" in msg["content"] and "\n- " in msg["content"] and "\n1. " in msg["content"]
    assert body["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0
    assert body["system_fingerprint"] == "fp_evolink_v4_20260402"
    off = chat(client, emu, thinking={"type": "disabled"}).json()
    assert "reasoning_content" not in off["choices"][0]["message"]
    assert "completion_tokens_details" not in off["usage"]
    legacy = chat(client, emu, model="deepseek-chat").json()
    assert legacy["model"] == "deepseek-v4-flash" and "reasoning_content" not in legacy["choices"][0]["message"]


def test_answers_are_deterministic_and_derived_from_the_prompt() -> None:
    a = plan([("user", "Explain joins")], thinking=True)
    assert a == plan([("user", "Explain joins")], thinking=True)
    assert a.content != plan([("user", "Explain windows")], thinking=True).content
    assert plan([("user", "What is 2+2?")], thinking=False).content.startswith("**4**")
    long = plan([("user", "Write 20000 characters on data")], thinking=True)
    assert 19_000 <= len(long.content) <= 20_000 and len(long.reasoning or "") > 4000


def test_stream_shape_matches_recordings(client, emu) -> None:
    text = stream(client, emu, stream_options={"include_usage": True})
    assert text.startswith(": keep-alive\n\n") and text.endswith("data: [DONE]\n\n")
    chunks = payloads(text)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": None, "reasoning_content": ""}
    assert all("usage" in c for c in chunks) and all(c["usage"] is None for c in chunks[:-1])
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == "stop" and last["usage"]["prompt_tokens"] > 0
    reasoning = "".join(c["choices"][0]["delta"].get("reasoning_content") or "" for c in chunks)
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    body = chat(client, emu).json()
    assert content == body["choices"][0]["message"]["content"]
    assert reasoning == body["choices"][0]["message"]["reasoning_content"]
    plain = payloads(stream(client, emu, thinking={"type": "disabled"}))
    assert all("usage" not in c for c in plain[:-1]) and plain[-1]["usage"]
    assert all("reasoning_content" not in c["choices"][0]["delta"] for c in plain)


def test_cache_hits_grow_with_an_append_only_conversation(client, emu) -> None:
    messages = [{"role": "system", "content": "You are a careful data scientist. " * 20},
                {"role": "user", "content": "Explain the bias-variance trade-off"}]
    first = chat(client, emu, messages=messages).json()
    msg = first["choices"][0]["message"]
    messages += [{"role": "assistant", "content": msg["content"], "reasoning_content": msg["reasoning_content"]},
                 {"role": "user", "content": "And for trees?"}]
    second = chat(client, emu, messages=messages).json()
    u = second["usage"]
    assert u["prompt_cache_hit_tokens"] % 64 == 0 and u["prompt_cache_hit_tokens"] >= 128
    assert u["prompt_cache_hit_tokens"] + u["prompt_cache_miss_tokens"] == u["prompt_tokens"]
    assert u["prompt_tokens_details"]["cached_tokens"] == u["prompt_cache_hit_tokens"]
    assert u["prompt_cache_hit_tokens"] > first["usage"]["prompt_tokens"] - 100  # prompt + output prefix


def test_reasoning_echo_rule(client, emu) -> None:
    q = [{"role": "user", "content": "Explain the echo rule please"}]
    msg = chat(client, emu, messages=q).json()["choices"][0]["message"]
    without = [*q, {"role": "assistant", "content": msg["content"]}, {"role": "user", "content": "more"}]
    r = chat(client, emu, messages=without)
    assert r.status_code == 400
    assert r.json()["error"]["message"] == "The reasoning_content in the thinking mode must be passed back to the API."
    changed = [*q, {"role": "assistant", "content": msg["content"], "reasoning_content": "edited"}, {"role": "user", "content": "more"}]
    assert chat(client, emu, messages=changed).status_code == 400
    ok = [*q, {"role": "assistant", "content": msg["content"], "reasoning_content": msg["reasoning_content"]}, {"role": "user", "content": "more"}]
    assert chat(client, emu, messages=ok).status_code == 200
    tool_turn = [*q, {"role": "assistant", "content": "", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                 {"role": "tool", "tool_call_id": "c", "content": "1"}]
    assert chat(client, emu, messages=tool_turn).status_code == 400


def test_max_tokens_and_stop(client, emu) -> None:
    short = chat(client, emu, max_tokens=5).json()
    assert short["choices"][0]["finish_reason"] == "length" and short["usage"]["completion_tokens"] == 5
    assert short["choices"][0]["message"]["content"] == ""  # reasoning used all of it
    stopped = chat(client, emu, thinking={"type": "disabled"}, stop=["```"]).json()
    assert "```" not in stopped["choices"][0]["message"]["content"]
    assert stopped["choices"][0]["finish_reason"] == "stop"


def test_n_choices_logprobs_json_and_tools(client, emu) -> None:
    multi = chat(client, emu, n=3, thinking={"type": "disabled"}).json()
    texts = [c["message"]["content"] for c in multi["choices"]]
    assert len(set(texts)) == 3
    lp = chat(client, emu, thinking={"type": "disabled"}, logprobs=True, top_logprobs=2).json()
    entry = lp["choices"][0]["logprobs"]["content"][0]
    assert {"token", "logprob", "bytes", "top_logprobs"} <= set(entry) and len(entry["top_logprobs"]) == 2
    js = chat(client, emu, response_format={"type": "json_object"}, messages=[{"role": "user", "content": "list json"}]).json()
    assert json.loads(js["choices"][0]["message"]["content"])["ok"] is True
    tools = [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
    called = chat(client, emu, tools=tools, messages=[{"role": "user", "content": "Use weather for Paris"}]).json()
    call = called["choices"][0]["message"]["tool_calls"][0]
    assert called["choices"][0]["finish_reason"] == "tool_calls" and json.loads(call["function"]["arguments"]) == {"city": "Paris"}


def test_connection_reuse_and_404(client, emu) -> None:
    before = emu.accepted_connections
    for _ in range(20):
        assert chat(client, emu, thinking={"type": "disabled"}).status_code == 200
    assert emu.accepted_connections - before == 1
    assert client.get(emu.url + "/v1/models").status_code == 404


def test_pace_is_honoured() -> None:
    import time

    with Emulator(tokens_per_second=400, first_token_delay=0) as slow, httpx.Client() as c:
        t = time.monotonic()
        text = stream(c, slow, thinking={"type": "disabled"}, messages=[{"role": "user", "content": "Write 1000 characters on x"}])
        took = time.monotonic() - t
    n = len(payloads(text))
    assert n / 400 * 0.7 <= took <= n / 400 * 1.6 + 0.3


def test_loopback_only() -> None:
    with pytest.raises(ValueError):
        Emulator(host="0.0.0.0")
