"""Tests of ``evo_magic.display.logprobs``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from evo_magic.display.logprobs import LogprobsView

from .helpers import assert_skipped_by_mathjax


def logprob_entries(n: int) -> list[dict[str, Any]]:
    import math

    out = []
    for i in range(n):
        p = 0.95 if i % 7 else 0.12 + i / 10_000
        alts = [{"token": f"alt{i}_{k}", "logprob": math.log(p / (k + 2))} for k in range(3)]
        out.append({"token": f" tok{i}" if i % 5 else "\n", "logprob": math.log(p), "top_logprobs": alts})
    out.append({"token": "<script>", "logprob": -9999.0, "top_logprobs": []})
    return out


def test_logprobs_are_a_compact_view_not_a_table_row_per_token() -> None:
    from evo_magic.display.logprobs import LogprobsView

    view = LogprobsView(logprob_entries(214))
    html = view._repr_html_()
    assert html.count('<span class="evo-lp evo-lp') == 215  # every token, inline, shaded by probability
    assert html.count("<tr>") <= 11  # the least likely few, folded, not 214 rows
    assert "<details" in html and "&lt;script&gt;" in html and "<script" not in html
    assert 'title="tok1 · p 95.0 % · alternatives: alt1_0 47.5 %, alt1_1 31.7 %, alt1_2 23.8 %"' in html
    assert "not in the top 20" in html
    text = repr(view)
    lines = text.splitlines()
    assert len(lines) <= 7 and all(len(line) <= 100 for line in lines), text
    assert lines[0].startswith("Token log-probabilities: 215 tokens, median p 95.0 %")
    assert lines[1] == "Least likely: '<script>' not in the top 20"
    assert lines[2].startswith("              '\\n' 12.0 % (alternatives: 'alt0_0' 6.0 %")


def test_a_long_answer_shows_its_first_tokens_and_says_so() -> None:
    from evo_magic.display.logprobs import LogprobsView

    view = LogprobsView(logprob_entries(3000), limit=2000)
    assert view._repr_html_().count('<span class="evo-lp evo-lp') == 2000
    assert "first 2,000 of 3,001 tokens" in view._repr_html_() and "3,001 tokens" in repr(view)


MATH_OUTPUTS: dict[str, Callable[[], str]] = {
    "logprobs": lambda: LogprobsView([{"token": "$", "logprob": -0.1, "top_logprobs": []}] * 2)._repr_html_(),
}


@pytest.mark.parametrize("name", list(MATH_OUTPUTS))
def test_every_html_output_is_skipped_by_mathjax(name: str) -> None:
    assert_skipped_by_mathjax(name, MATH_OUTPUTS[name]())
