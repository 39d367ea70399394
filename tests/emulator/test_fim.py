"""FIM completion in the emulator: the filled middle (pure), the documented validation, and
``POST /beta/completions`` over loopback, streamed and not, read back by the FIM codec."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evo_magic.core.snapshot import accumulate
from evo_magic.emulator import Emulator, validate
from evo_magic.emulator.fill import fill
from evo_magic.emulator.tokens import count
from evo_magic.protocol import fim

from ..profiles import examples
from .conftest import key


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    """This module counts usage with the approximate tokens, so a test can count them too."""
    with Emulator(exact_tokens=False) as e:
        yield e

FIB = ("def fib(a):", "    return fib(a-1) + fib(a-2)")
PYTHON = [
    FIB,
    ("def mean(xs):\n", "    return total / count\n"),
    ("def area(w, h):\n    ", "\n    return w * h\n"),
    ("import math\n\ndef norm(v):\n", ""),
    ("class Box:\n    def volume(self):", "\n        return self.w * self.h * self.d"),
    ("for row in rows:\n", "    print(row)\n"),
    ("", "print(result)\n"),
]


# --- the filled middle ----------------------------------------------------------------------


@pytest.mark.parametrize(("prompt", "suffix"), PYTHON)
def test_python_holes_are_filled_with_python_that_fits(prompt: str, suffix: str) -> None:
    middle = fill(prompt, suffix)
    assert middle.strip() and middle == fill(prompt, suffix)  # something, and always the same
    ast.parse(prompt + middle + suffix)  # the completed code is valid Python


def test_the_fibonacci_example_gets_a_base_case() -> None:
    middle = fill(*FIB)
    assert "if a < 2:" in middle and "return a" in middle


def test_names_the_suffix_uses_are_defined() -> None:
    code = "def mean(xs):\n" + fill("def mean(xs):\n", "    return total / count\n") + "    return total / count\n"
    namespace: dict = {}
    exec(compile(code, "<fim>", "exec"), namespace)
    assert namespace["mean"]([1, 2, 3]) == 2


def test_braces_and_prose() -> None:
    js = fill("function add(a, b) {", "\n}")
    assert js.lstrip().startswith("//") or "return" in js
    for suffix in (" over the lazy dog.", "over the lazy dog."):
        prose = fill("The quick brown fox", suffix)
        whole = "The quick brown fox" + prose + suffix
        assert prose.strip() and "  " not in whole
        assert prose.startswith(" ") and (prose.endswith(" ") or suffix.startswith(" "))


@settings(max_examples=examples(200), deadline=None)
@given(st.text(max_size=300), st.text(max_size=300))
def test_any_prompt_and_suffix(prompt: str, suffix: str) -> None:
    middle = fill(prompt, suffix)
    assert isinstance(middle, str) and middle == fill(prompt, suffix)


# --- validation -----------------------------------------------------------------------------

OK = {"model": "deepseek-v4-flash", "prompt": FIB[0], "suffix": FIB[1]}


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"prompt": None}, "missing field `prompt`"),
        ({"prompt": 3}, "prompt: invalid type"),
        ({"suffix": 3}, "suffix: invalid type"),
        ({"model": "gpt-4"}, "Model Not Exist"),
        ({"model": "deepseek-reasoner"}, "non-thinking"),
        ({"thinking": {"type": "enabled"}}, "non-thinking"),
        ({"thinking": {"type": "sometimes"}}, "thinking.type"),
        ({"max_tokens": 4097}, "[1, 4096]"),
        ({"max_tokens": 0}, "[1, 4096]"),
        ({"logprobs": 21}, "logprobs"),
        ({"logprobs": True}, "logprobs: invalid type"),
        ({"echo": True}, "echo"),
        ({"suffix": None, "echo": True, "logprobs": 2}, "echo"),
        ({"stop": ["x"] * 17}, "stop"),
        ({"stream_options": {"include_usage": True}}, "stream = true"),
        ({"temperature": 3}, "temperature"),
        ({"prompt": None, "messages": [{"role": "user", "content": "hi"}]}, "missing field `prompt`"),  # a chat body
    ],
)
def test_each_fim_rule(change: dict, fragment: str) -> None:
    body = {k: v for k, v in {**OK, **change}.items() if v is not None}
    problem = validate.check_fim(body)
    assert problem is not None and fragment in problem


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"model": "deepseek-chat"},
        {"model": "deepseek-v4-pro", "thinking": {"type": "disabled"}, "max_tokens": 4096},
        {"suffix": None, "echo": True, "stream": True, "stream_options": {"include_usage": True}},
        {"logprobs": 20, "stop": "\n\n", "temperature": 0.2, "top_p": 0.9, "frequency_penalty": 1},
    ],
)
def test_valid_fim_bodies_pass(change: dict) -> None:
    assert validate.check_fim({k: v for k, v in {**OK, **change}.items() if v is not None}) is None


# --- over loopback --------------------------------------------------------------------------


def post(client, emu, headers=None, path="/beta/completions", **body):
    return client.post(emu.url + path, headers=headers or key("fim"), json={**OK, **body})


def streamed(client, emu, headers=None, **body) -> str:
    with client.stream("POST", emu.url + "/beta/completions", headers=headers or key("fim"), json={**OK, **body}) as r:
        assert r.status_code == 200 and r.headers["content-type"] == "text/event-stream; charset=utf-8"
        return r.read().decode()


def chunks_of(text: str) -> list[dict]:
    assert text.endswith("data: [DONE]\n\n")
    return [json.loads(line[6:]) for line in text.split("\n\n") if line.startswith("data: {")]


def test_nonstreamed_body_is_deepseeks_shape(client, emu) -> None:
    r = post(client, emu, max_tokens=128)
    body = r.json()
    assert r.status_code == 200 and list(body) == [
        "id",
        "object",
        "created",
        "model",
        "choices",
        "usage",
        "system_fingerprint",
    ]
    assert body["object"] == "text_completion" and body["model"] == "deepseek-v4-flash"
    choice = body["choices"][0]
    assert list(choice) == ["text", "index", "logprobs", "finish_reason"] and choice["finish_reason"] == "stop"
    assert choice["text"] == fill(*FIB) and choice["logprobs"] is None
    usage = body["usage"]
    assert list(usage) == [
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "prompt_tokens_details",
        "prompt_cache_hit_tokens",
        "prompt_cache_miss_tokens",
    ]  # the chat usage object, without completion_tokens_details: FIM never thinks
    assert (
        usage["completion_tokens"] == count(choice["text"])
        and usage["prompt_tokens"] == count(FIB[0]) + count(FIB[1]) + 3
    )


def test_streamed_like_the_chat_streams(client, emu) -> None:
    chunks = chunks_of(streamed(client, emu, stream=True, stream_options={"include_usage": True}))
    assert all(
        c["object"] == "text_completion" and list(c)[:5] == ["id", "object", "created", "model", "system_fingerprint"]
        for c in chunks
    )
    assert all(c.get("usage", "absent") is None for c in chunks[:-1]) and chunks[-1]["usage"]["completion_tokens"] > 0
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop" and chunks[-1]["choices"][0]["text"] == ""
    text = "".join(c["choices"][0]["text"] for c in chunks)
    assert text == fill(*FIB) and len(chunks) > 3  # token by token
    plain = chunks_of(streamed(client, emu, stream=True))
    assert all("usage" not in c for c in plain[:-1]) and plain[-1]["usage"]  # usage still on the last chunk


def test_the_codec_reads_both(client, emu) -> None:
    """The FIM codec (what evo_magic.fill will use) against the emulator, streamed and not."""
    from httpx_sse import EventSource

    whole = accumulate(fim.parse_response(post(client, emu, max_tokens=64).content))
    with client.stream("POST", emu.url + "/beta/completions", headers=key("fim"), json={**OK, "stream": True}) as r:
        parser = fim.StreamParser()
        events = [e for sse in EventSource(r).iter_sse() for e in parser.feed(sse.data)] + parser.flush()
    streamed_snap = accumulate(events)
    assert streamed_snap.text == whole.text == fill(*FIB) and streamed_snap.complete and whole.complete
    assert streamed_snap.usage == whole.usage and whole.usage.reasoning_tokens is None


def test_max_tokens_stop_and_echo(client, emu) -> None:
    cut = post(client, emu, max_tokens=3).json()
    assert cut["choices"][0]["finish_reason"] == "length" and cut["usage"]["completion_tokens"] == 3
    assert fill(*FIB).startswith(cut["choices"][0]["text"])
    stopped = post(client, emu, stop=["return"]).json()["choices"][0]
    assert "return" not in stopped["text"] and stopped["finish_reason"] == "stop"
    echo = post(client, emu, suffix=None, echo=True, prompt="Once upon a time,").json()
    assert echo["choices"][0]["text"].startswith("Once upon a time,")
    assert echo["usage"]["completion_tokens"] == count(echo["choices"][0]["text"][len("Once upon a time,") :])
    echoed = chunks_of(streamed(client, emu, suffix=None, echo=True, prompt="Once upon a time,", stream=True))
    assert "".join(c["choices"][0]["text"] for c in echoed) == echo["choices"][0]["text"]


def test_logprobs_completion_style(client, emu) -> None:
    lp = post(client, emu, logprobs=2, max_tokens=5).json()["choices"][0]["logprobs"]
    assert list(lp) == ["text_offset", "token_logprobs", "tokens", "top_logprobs"]
    assert "".join(lp["tokens"]) == fill(*FIB)[: len("".join(lp["tokens"]))] and len(lp["tokens"]) == 5
    assert lp["text_offset"][0] == len(FIB[0]) and all(len(t) == 2 for t in lp["top_logprobs"])


def test_errors_routes_and_faults(client, emu) -> None:
    thinking = post(client, emu, thinking={"type": "enabled"})
    assert thinking.status_code == 400 and thinking.json()["error"]["type"] == "invalid_request_error"
    assert post(client, emu, max_tokens=5000).status_code == 400
    assert post(client, emu, model="deepseek-reasoner").status_code == 400
    assert client.post(emu.url + "/beta/completions", json=OK).status_code == 401
    assert post(client, emu, path="/v1/completions").status_code == 404  # no FIM outside the beta base by default
    emu.close_route("/beta/completions")
    try:
        gone = post(client, emu)
        assert gone.status_code == 404 and gone.json()["error"]["message"] == "Unknown path /beta/completions"
    finally:
        emu.open_route("/beta/completions", "fim")
    emu.fail_next("429")
    assert post(client, emu).status_code == 429
    emu.fail_next("finish", finish="insufficient_system_resource")
    assert post(client, emu).json()["choices"][0]["finish_reason"] == "insufficient_system_resource"


def test_prompt_cache_hits_in_whole_units(client, emu) -> None:
    h = key("fim")
    long_prompt = "def transform(rows):\n" + "".join(f"    row_{i} = rows[{i}] * {i}\n" for i in range(40))
    first = post(client, emu, headers=h, prompt=long_prompt, suffix="    return rows\n").json()["usage"]
    again = post(client, emu, headers=h, prompt=long_prompt, suffix="    return None\n").json()["usage"]
    assert first["prompt_cache_hit_tokens"] == 0 and again["prompt_cache_hit_tokens"] >= 64
    assert again["prompt_cache_hit_tokens"] % 64 == 0


def test_routes_from_the_command_line() -> None:
    """``python -m evo_magic.emulator --no-route PATH --route PATH=KIND`` moves FIM elsewhere."""
    bad = subprocess.run(
        [sys.executable, "-m", "evo_magic.emulator", "--route", "/x=teleport"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert bad.returncode == 2 and "unknown route kind 'teleport'" in bad.stderr
    command = [sys.executable, "-m", "evo_magic.emulator", "--approximate-tokens"]
    command += ["--no-route", "/beta/completions", "--route", "/v1/completions=fim"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as proc:
        try:
            url = proc.stdout.readline().split()[-1]  # type: ignore[union-attr]
            headers = key("fim")
            assert httpx.post(url + "/beta/completions", headers=headers, json=OK).status_code == 404
            moved = httpx.post(url + "/v1/completions", headers=headers, json=OK)
            assert moved.status_code == 200 and moved.json()["choices"][0]["text"] == fill(*FIB)
        finally:
            proc.terminate()
