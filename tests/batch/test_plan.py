"""The dry-run estimate: rows, distinct requests, exact prompt tokens, cache hits, output, cost."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evo_magic.batch.plan import estimate, shared_prefix
from evo_magic.batch.template import compile_template
from evo_magic.core import tokens
from evo_magic.core.options import RequestOptions
from evo_magic.ledger.pricing import shipped_table
from evo_magic.protocol import openai_chat

from ..profiles import examples

PEAK = datetime(2026, 10, 12, 2, 0, tzinfo=timezone.utc)  # a Monday, 10:00 in Beijing (no holiday)
OFF_PEAK = datetime(2026, 10, 4, 2, 0, tzinfo=timezone.utc)  # a Sunday
M = Decimal(1_000_000)
INSTRUCTION = "Classify the sentiment of this customer review as positive, negative or neutral. " * 8 + "{text}"


def bodies(texts: list[str], **opts) -> list[dict]:
    template = compile_template(INSTRUCTION, ["text"])
    options = RequestOptions(thinking=False, stream=False, max_tokens=20, **opts)
    return [openai_chat.build_body(template.messages({"text": t}), options) for t in texts]


def test_counts_rows_distinct_requests_and_exact_prompt_tokens() -> None:
    counter = tokens.tokenizer()
    sent = bodies(["great", "awful", "great", "fine"])
    e = estimate(sent, at=PEAK)
    assert (e.rows, e.distinct) == (4, 3)
    assert e.prompt_tokens == sum(counter.prompt_tokens(b) for b in sent[:2] + sent[3:])
    assert e.exact == counter.exact and e.model == "deepseek-v4-flash"


def test_rows_after_the_first_hit_the_instruction_in_whole_64_token_units() -> None:
    counter = tokens.tokenizer()
    sent = bodies([f"review number {i}" for i in range(10)])
    shared = 1 + counter.count(compile_template(INSTRUCTION, ["text"]).instruction()) + 1
    e = estimate(sent, at=PEAK)
    assert shared >= 128 and e.cache_hit_tokens == 9 * (shared // 64 * 64)
    assert e.cache_miss_tokens == e.prompt_tokens - e.cache_hit_tokens


def test_output_is_bounded_by_max_tokens_and_estimated_from_a_pilot() -> None:
    e = estimate(bodies(["a", "b", "c"]), at=PEAK)
    assert (e.output_min, e.output_max, e.output_expected) == (3, 60, None)
    piloted = estimate(bodies(["a", "b", "c"]), at=PEAK, pilot=[4, 6])
    assert (piloted.output_min, piloted.output_expected) == (12, 15)
    unbounded = [{**b, "max_tokens": None} for b in bodies(["a"])]
    assert estimate(unbounded, at=PEAK).output_max == 8_192
    thinking = [{**b, "thinking": {"type": "enabled"}} for b in unbounded]
    assert estimate(thinking, at=PEAK).output_max == 65_536


def test_cost_range_at_the_price_in_force_and_at_the_other_period() -> None:
    e = estimate(bodies(["a", "b"]), at=PEAK, pilot=[5])
    assert e.price.period == "peak" and e.other_price.period == "off_peak"
    hit, miss = e.cache_hit_tokens, e.cache_miss_tokens
    low = (hit * Decimal("0.014") + miss * Decimal("0.44") + 10 * Decimal("1.32")) / M  # the pilot's least, twice
    high = (hit * Decimal("0.014") + miss * Decimal("0.44") + 40 * Decimal("1.32")) / M
    assert e.cost_range == (low, high) and e.cost_expected == (hit * Decimal("0.014") + miss * Decimal("0.44") + 10 * Decimal("1.32")) / M
    assert e.cost(e.output_max, e.other_price) == high / 2
    assert estimate(bodies(["a"]), at=OFF_PEAK).price.period == "off_peak"


def test_an_unknown_model_has_no_cost_but_still_counts() -> None:
    e = estimate(bodies(["a"], model="deepseek-v9-imaginary"), at=PEAK)
    assert e.price is None and e.cost_range == (None, None) and e.prompt_tokens > 0
    assert "unknown (no price for deepseek-v9-imaginary)" in repr(e)


def test_the_plan_reads_as_a_table_in_text_and_html() -> None:
    e = estimate(bodies(["<b>x</b>", "y", "y"]), at=PEAK, pilot=[3])
    text = repr(e)
    assert text.startswith("Estimate\nwhat") and re.search(r"\ndistinct requests +2 \(identical rows asked once\)\n", text)
    assert "cost now, peak" in text and "cost other period, off-peak" in text and "nothing was sent" in text
    html = e._repr_html_()
    assert "<table>" in html and "predicted cache hits" in html


def test_an_approximate_count_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "vocabulary", lambda: None)
    e = estimate(bodies(["a"]), counter=tokens.tokenizer(prefer=tokens.APPROXIMATE), at=PEAK)
    assert not e.exact and "approximate: no DeepSeek vocabulary installed" in repr(e)


@settings(max_examples=examples(60), deadline=None)
@given(st.lists(st.text(max_size=30), min_size=1, max_size=12), st.integers(1, 500), st.lists(st.integers(1, 400), max_size=4))
def test_token_and_cost_arithmetic_holds_for_any_rows(texts: list[str], max_tokens: int, pilot: list[int]) -> None:
    counter = tokens.tokenizer(prefer=tokens.APPROXIMATE)  # fast and deterministic: arithmetic only
    sent = bodies(texts, extra={"max_tokens": max_tokens})
    e = estimate(sent, counter=counter, at=PEAK, pilot=pilot or None, prices=shipped_table())
    assert e.rows == len(texts) and e.distinct == len(set(texts))
    assert e.cache_hit_tokens % 64 == 0 and 0 <= e.cache_hit_tokens <= e.prompt_tokens
    assert e.cache_hit_tokens <= (e.distinct - 1) * e.prompt_tokens
    assert e.output_min <= (e.output_expected if e.output_expected is not None else e.output_min) <= e.output_max
    assert e.output_max == e.distinct * max_tokens
    price = shipped_table().price_for("deepseek-v4-flash", PEAK)
    for output in (e.output_min, e.output_max):
        manual = (e.cache_hit_tokens * price.cache_hit + e.cache_miss_tokens * price.cache_miss + output * price.output) / M
        assert e.cost(output) == manual
    low, high = e.cost_range
    assert low <= high


def test_shared_prefix_with_and_without_a_hint() -> None:
    assert shared_prefix([1, 2, 3, 4], [1, 2, 9]) == 2
    assert shared_prefix([1, 2, 3, 4], [1, 2, 3, 4, 5], hint=3) == 4
    assert shared_prefix([1, 2, 3], [7, 2, 3], hint=2) == 0
