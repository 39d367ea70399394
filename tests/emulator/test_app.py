"""The bundled emulator: its pure parts directly, then over real loopback sockets with httpx
as a raw client, compared with the recorded DeepSeek wire bodies."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from evo_magic.emulator import Emulator
from evo_magic.emulator.tokens import count

from ..conftest import recording
from .helpers import WEATHER

ECHO = "The reasoning_content in the thinking mode must be passed back to the API."


def key() -> dict[str, str]:
    """A fresh API key: its own prefix cache and reasoning memory."""
    return {"Authorization": f"Bearer sk-test-{uuid.uuid4().hex[:8]}"}


H = key()


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


def test_context_length(client) -> None:
    # counted approximately: the limit does not depend on the counter, and DeepSeek's tokenizer
    # takes two seconds over these million tokens (its counts have tests of their own)
    with Emulator(exact_tokens=False) as emu:
        r = post(client, emu, messages=[{"role": "user", "content": "x " * 1_048_600}])
    message = r.json()["error"]["message"]
    assert r.status_code == 400 and "maximum context length is 1048565 tokens. However, you requested 10486" in message


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
    def non_streamed() -> tuple[httpx.Response, float]:  # asked at the same time, on its own connection
        with httpx.Client() as c:
            t = time.monotonic()
            r = post(c, slow, thinking={"type": "disabled"}, messages=[{"role": "user", "content": "What is 2+2?"}])
            return r, time.monotonic() - t

    with Emulator(tokens_per_second=400, first_token_delay=1.1) as slow, httpx.Client() as c:
        with ThreadPoolExecutor(1) as pool:
            answer = pool.submit(non_streamed)
            t = time.monotonic()
            text = stream(c, slow, thinking={"type": "disabled"}, messages=[{"role": "user", "content": "Write 150 words"}])
            took = time.monotonic() - t - 1.1
            r, waited = answer.result()
        assert text.startswith(": keep-alive\n\n: keep-alive\n\ndata: ")  # one now, one after a second
        n = len(events(text))
        assert n / 400 * 0.8 <= took <= n / 400 * 1.5 + 0.3
        assert r.text.startswith("\n\n{") and waited >= 1.1 and r.json()["usage"]


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
