"""An answer cut at max_tokens (``finish_reason: "length"``) says so in words: how many tokens,
how many went to thinking, and what to do; the empty-answer case included."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evo_magic.core.snapshot import accumulate
from evo_magic.core.usage import Usage
from evo_magic.display.render import Footer, cut_short, render_reply_html, render_reply_text, status_text
from evo_magic.protocol import openai_chat

from ..conftest import recording

HINT = "%deepseek continue, or raise --max-tokens"


def thinking_usage(completion: int, reasoning: int | None) -> Usage:
    return Usage(97, 0, 97, completion, reasoning)


@pytest.mark.parametrize(
    ("usage", "max_tokens", "answered", "expected"),
    [
        (thinking_usage(4096, 3900), 4096, True, f"cut at 4,096 tokens: 3,900 went to thinking — {HINT}"),
        (thinking_usage(4096, 4096), 4096, False, f"no answer: all 4,096 tokens went to thinking — {HINT}"),
        (thinking_usage(4096, 3900), None, True, f"cut at 4,096 tokens: 3,900 went to thinking — {HINT}"),
        (thinking_usage(4096, 4096), None, None, f"no answer: all 4,096 tokens went to thinking — {HINT}"),
        (thinking_usage(500, None), 500, True, f"cut at 500 tokens — {HINT}"),  # thinking off
        (thinking_usage(500, 0), 500, True, f"cut at 500 tokens — {HINT}"),
        (thinking_usage(500, 420), 500, False, f"no answer: cut at 500 tokens, 420 went to thinking — {HINT}"),
        (thinking_usage(500, None), 500, False, f"no answer: cut at 500 tokens — {HINT}"),
        (None, 8192, True, f"cut at 8,192 tokens — {HINT}"),
        (None, None, True, f"cut at max_tokens — {HINT}"),
        (thinking_usage(0, None), None, False, f"no answer: cut at max_tokens — {HINT}"),
        (thinking_usage(9000, 8500), 4096, True, f"cut at 4,096 tokens: 8,500 went to thinking — {HINT}"),  # rounds
    ],
)
def test_wording(usage: Usage | None, max_tokens: int | None, answered: bool | None, expected: str) -> None:
    assert cut_short(usage, max_tokens, answered=answered) == expected


def test_without_a_word_on_the_answer_the_usage_decides() -> None:
    """All of the output was reasoning: there is no answer; otherwise there is one."""
    assert cut_short(thinking_usage(4096, 4096), 4096).startswith("no answer: all 4,096")
    assert cut_short(thinking_usage(4096, 3900), 4096).startswith("cut at 4,096 tokens: 3,900")
    assert cut_short(None, 4096).startswith("cut at 4,096 tokens")


def test_html_form_marks_the_command_and_the_option() -> None:
    html = cut_short(thinking_usage(4096, 3900), 4096, html=True)
    assert html == (
        "cut at 4,096 tokens: 3,900 went to thinking — <code>%deepseek continue</code>, "
        "or raise <code>--max-tokens</code>"
    )


@given(
    st.integers(0, 10**6),
    st.one_of(st.none(), st.integers(0, 10**6)),
    st.one_of(st.none(), st.integers(1, 384_000)),
    st.one_of(st.none(), st.booleans()),
)
def test_always_one_line_with_the_hint(
    completion: int, reasoning: int | None, mt: int | None, ans: bool | None
) -> None:
    text = cut_short(Usage(10, 0, 10, completion, reasoning), mt, answered=ans)
    assert "\n" not in text and text.endswith(HINT) and len(text) < 120


def length_cut_recording() -> dict:
    """The recorded thinking-mode body (deepseek-v4-flash, effort high) as it comes back when
    max_tokens runs out during the reasoning: ``content: ""``, ``finish_reason: "length"``,
    every completion token a reasoning token (the shape issue 15 reports from real use)."""
    body = json.loads(recording("thinking_enabled_effort_high")["response"])
    choice = body["choices"][0]
    choice["message"]["content"], choice["finish_reason"] = "", "length"
    choice["message"]["reasoning_content"] = "We need to think about this carefully. " * 40
    body["usage"].update(completion_tokens=64, total_tokens=97 + 64, completion_tokens_details={"reasoning_tokens": 64})
    return body


def test_a_recording_shaped_empty_answer_says_no_answer_in_both_forms() -> None:
    snap = accumulate(openai_chat.parse_response(json.dumps(length_cut_recording())))
    assert snap.text == "" and snap.finish_reason == "length"
    footer = Footer("deepseek-v4-flash", snap.usage, 3.2, 0.4, 3.1, status="length", max_tokens=64)
    line = f"no answer: all 64 tokens went to thinking — {HINT}"
    assert status_text(footer) == line
    assert f"[{line}]" in render_reply_text(snap, footer)
    html = render_reply_html(snap, footer)
    assert (
        '<div class="evo-banner warn" role="status">no answer: all 64 tokens went to thinking — '
        "<code>%deepseek continue</code>, or raise <code>--max-tokens</code></div>"
    ) in html


def test_a_cut_answer_reads_from_the_snapshot() -> None:
    """The snapshot says whether there is answer text, whatever the usage says."""
    body = length_cut_recording()
    body["choices"][0]["message"]["content"] = "The answer beg"
    body["usage"]["completion_tokens_details"] = {"reasoning_tokens": 60}
    snap = accumulate(openai_chat.parse_response(json.dumps(body)))
    footer = Footer("deepseek-v4-flash", snap.usage, 3.2, 0.4, 3.1, status="length")
    assert f"[cut at 64 tokens: 60 went to thinking — {HINT}]" in render_reply_text(snap, footer)


def test_a_message_of_the_caller_still_wins() -> None:
    footer = Footer("m", thinking_usage(10, 5), 1.0, None, None, status="length", message="Cut short.")
    assert status_text(footer) == "Cut short."


@pytest.mark.parametrize("status", ["length", "interrupted", "content_filter"])
def test_the_banner_ends_its_sentence_before_the_notes(status: str) -> None:
    """A continued answer cut again read "… or raise --max-tokens Continued an answer cut …"."""
    note = "Continued an answer cut at max_tokens while thinking (91 characters of thinking were there)."
    footer = Footer("m", thinking_usage(20, 20), 0.5, None, None, status=status, max_tokens=20, notes=note)
    text = status_text(footer) or ""
    said, _, rest = text.partition(". Continued")
    assert rest and not said.endswith(".") and f"{said}. Continued{rest}" == text
    html = status_text(footer, html=True) or ""
    assert ". Continued an answer cut at max_tokens" in html
    ended = Footer("m", None, 0.5, None, None, status="length", message="Cut short.", notes=note)
    assert status_text(ended) == f"Cut short. {note}"  # a sentence that ends keeps its own stop
