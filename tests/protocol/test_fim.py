"""The FIM (fill in the middle) codec: DeepSeek's ``POST /beta/completions`` body, exactly as
documented, and its responses, streamed or not, as the same typed events as the chat codecs."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evo_magic import errors
from evo_magic.core.events import Finished, LogprobsDelta, ResponseStarted, StreamFailed, TextDelta, UsageReported
from evo_magic.core.options import RequestOptions
from evo_magic.core.snapshot import accumulate
from evo_magic.core.usage import Usage
from evo_magic.errors import OptionError, ProtocolError
from evo_magic.protocol import fim

PROMPT, SUFFIX = "def fib(a):", "    return fib(a-1) + fib(a-2)"
USAGE = {
    "prompt_tokens": 14,
    "completion_tokens": 9,
    "total_tokens": 23,
    "prompt_tokens_details": {"cached_tokens": 0},
    "prompt_cache_hit_tokens": 0,
    "prompt_cache_miss_tokens": 14,
}
BASE = {"id": "5e1c7a1e-0000-4000-8000-000000000001", "object": "text_completion", "created": 1781082253}


def wire(body: dict) -> str:
    return json.dumps(body, ensure_ascii=False)


# --- request bodies -------------------------------------------------------------------------


def test_body_of_deepseeks_fim_example() -> None:
    """The FIM guide's example (model, prompt, suffix, max_tokens), keys in the documented order."""
    opts = RequestOptions(model="deepseek-v4-pro", max_tokens=128, stream=False)
    assert wire(fim.build_body(PROMPT, SUFFIX, opts)) == wire(
        {"model": "deepseek-v4-pro", "prompt": PROMPT, "max_tokens": 128, "stream": False, "suffix": SUFFIX}
    )


def test_every_documented_field_in_the_documented_order() -> None:
    opts = RequestOptions(
        model="deepseek-v4-flash",
        max_tokens=4096,
        temperature=0.2,
        top_p=0.9,
        frequency_penalty=0.5,
        presence_penalty=-0.5,
        stop=("\n\n",),
        logprobs=True,
        top_logprobs=3,
        stream=True,
    )
    body = fim.build_body(PROMPT, SUFFIX, opts)
    assert list(body) == [
        "model",
        "prompt",
        "frequency_penalty",
        "logprobs",
        "max_tokens",
        "presence_penalty",
        "stop",
        "stream",
        "stream_options",
        "suffix",
        "temperature",
        "top_p",
    ]
    assert body["logprobs"] == 3 and body["stop"] == ["\n\n"] and body["stream_options"] == {"include_usage": True}
    echo = fim.build_body("Once upon a time, ", None, RequestOptions(stream=False), echo=True)
    assert wire(echo) == wire(
        {"model": "deepseek-v4-flash", "prompt": "Once upon a time, ", "echo": True, "stream": False}
    )


def test_no_thinking_field_is_sent() -> None:
    """FIM never thinks: the body has no thinking, whatever the chat default is."""
    body = fim.build_body(PROMPT, SUFFIX, RequestOptions(model="deepseek-v4-flash"))
    assert "thinking" not in body and "reasoning_effort" not in body


@pytest.mark.parametrize(
    ("opts", "fragment"),
    [
        (RequestOptions(thinking=True), "without thinking"),
        (RequestOptions(model="deepseek-reasoner"), "deepseek-reasoner always thinks"),
        (RequestOptions(reasoning_effort="high"), "--effort"),
        (RequestOptions(max_tokens=4097), "at most 4,096"),
        (RequestOptions(tools=({"type": "function", "function": {"name": "f"}},)), "tools"),
        (RequestOptions(tool_choice="auto"), "tool"),
        (RequestOptions(json_mode=True), "--json"),
        (RequestOptions(n=2), "-n"),
        (RequestOptions(logit_bias={"1": 2.0}), "--logit-bias"),
        (RequestOptions(seed=1), "--seed"),
        (RequestOptions(user="u"), "--user"),
    ],
)
def test_options_fim_does_not_offer_are_one_line_errors(opts: RequestOptions, fragment: str) -> None:
    with pytest.raises(OptionError, match=fragment) as caught:
        fim.build_body(PROMPT, SUFFIX, opts)
    assert "\n" not in str(caught.value)


def test_echo_goes_with_neither_suffix_nor_logprobs() -> None:
    with pytest.raises(OptionError, match="echo"):
        fim.build_body(PROMPT, SUFFIX, RequestOptions(), echo=True)
    with pytest.raises(OptionError, match="echo"):
        fim.build_body(PROMPT, None, RequestOptions(logprobs=True), echo=True)


# --- responses ------------------------------------------------------------------------------


def chunk(text: str, finish: str | None = None, usage: dict | None = None, **extra) -> dict:
    out = {
        **BASE,
        "model": "deepseek-v4-pro",
        "system_fingerprint": "fp_evolink_v4_20260402",
        "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": finish}],
        **extra,
    }
    if usage is not None:
        out["usage"] = usage
    return out


def feed_all(payloads: list[str]) -> list:
    parser = fim.StreamParser()
    events = [e for p in payloads for e in parser.feed(p)]
    return events + parser.flush()


def test_stream_gives_the_chat_events() -> None:
    payloads = [wire(chunk("\n    if")), wire(chunk(" a < 2:")), wire(chunk("", "stop", USAGE)), "[DONE]", "junk"]
    events = feed_all(payloads)
    assert events == [
        ResponseStarted(BASE["id"], "deepseek-v4-pro"),
        TextDelta("\n    if"),
        TextDelta(" a < 2:"),
        Finished("stop"),
        UsageReported(Usage(14, 0, 14, 9, None)),
    ]
    snap = accumulate(events)
    assert snap.text == "\n    if a < 2:" and snap.complete and snap.usage.completion_tokens == 9


def test_usage_in_a_separate_chunk_and_length() -> None:
    """An OpenAI-style gateway sends usage alone, with ``choices: []``; the last one wins."""
    payloads = [wire(chunk("x", usage=None)), wire(chunk("", "length")), wire({**BASE, "choices": [], "usage": USAGE})]
    snap = accumulate(feed_all(payloads))
    assert snap.finish_reason == "length" and snap.usage == Usage.from_openai(USAGE)


def test_logprobs_become_chat_shaped_entries() -> None:
    """Completion logprobs (tokens / token_logprobs / top_logprobs maps) become the chat
    protocol's entries, so the logprobs view reads both."""
    lp = {
        "text_offset": [11],
        "token_logprobs": [-0.25],
        "tokens": [" if"],
        "top_logprobs": [{" if": -0.25, " x": -2.0}],
    }
    events = feed_all(
        [wire({**chunk(" if"), "choices": [{"text": " if", "index": 0, "logprobs": lp, "finish_reason": None}]})]
    )
    assert (
        LogprobsDelta(
            (
                {
                    "token": " if",
                    "logprob": -0.25,
                    "bytes": None,
                    "top_logprobs": [
                        {"token": " if", "logprob": -0.25, "bytes": None},
                        {"token": " x", "logprob": -2.0, "bytes": None},
                    ],
                },
            )
        )
        in events
    )


def test_errors_and_malformed_events() -> None:
    failed = feed_all([wire({"error": {"message": "boom", "type": "server_error", "code": 503}})])
    assert isinstance(failed[0], StreamFailed) and isinstance(failed[0].error, errors.ServerError)
    bad = feed_all(["{not json"])
    assert isinstance(bad[0], StreamFailed) and isinstance(bad[0].error, ProtocolError)
    odd = feed_all([wire({"choices": [{"text": "x", "index": "zero"}]})])
    assert isinstance(odd[-1], StreamFailed)


def test_nonstreamed_body() -> None:
    body = {
        **BASE,
        "model": "deepseek-v4-pro",
        "choices": [
            {"text": "\n    if a < 2:\n        return a\n", "index": 0, "logprobs": None, "finish_reason": "stop"}
        ],
        "usage": USAGE,
        "system_fingerprint": "fp_evolink_v4_20260402",
    }
    snap = accumulate(fim.parse_response("\n\n" + wire(body)))
    assert snap.text == "\n    if a < 2:\n        return a\n" and snap.complete and snap.model == "deepseek-v4-pro"
    with pytest.raises(ProtocolError):
        fim.parse_response('{"choices": 5}')
    with pytest.raises(ProtocolError):
        fim.parse_response("not json")


@given(st.lists(st.text(min_size=1), max_size=8), st.sampled_from(["stop", "length"]))
def test_streamed_and_nonstreamed_agree(pieces: list[str], finish: str) -> None:
    streamed = accumulate(feed_all([wire(chunk(p)) for p in pieces] + [wire(chunk("", finish, USAGE)), "[DONE]"]))
    body = {
        **BASE,
        "model": "deepseek-v4-pro",
        "choices": [{"text": "".join(pieces), "index": 0, "finish_reason": finish}],
        "usage": USAGE,
    }
    whole = accumulate(fim.parse_response(wire(body)))
    assert (streamed.text, streamed.finish_reason, streamed.usage) == (whole.text, whole.finish_reason, whole.usage)
    assert streamed.text == "".join(pieces)
