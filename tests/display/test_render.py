"""Rendering: safe markdown, the XSS corpus, footers, banners, the text form, the block splitter."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal

import pytest

from evo_magic.core.events import Finished, ReasoningDelta, TextDelta, ToolCallDelta
from evo_magic.core.snapshot import TurnSnapshot, accumulate
from evo_magic.core.usage import Usage
from evo_magic.display.render import (
    Footer,
    footer_html,
    footer_text,
    render_reply_html,
    render_reply_text,
    reply_css,
    status_text,
)

from .helpers import CORPUS, DOLLARS, FOOTER, PYTHON, assert_skipped_by_mathjax, audit, dollars_reply, three_choices

USAGE = Usage(
    prompt_tokens=1234, cache_hit_tokens=926, cache_miss_tokens=308, completion_tokens=210, reasoning_tokens=198
)


# --- markdown ------------------------------------------------------------------------------


def test_xss_corpus_everywhere_in_a_reply() -> None:
    corpus = "\n\n".join(CORPUS)
    snap = accumulate(
        [
            ReasoningDelta(corpus),
            TextDelta(corpus),
            ToolCallDelta(0, "call_1", "<script>f</script>", '{"a": "<img src=x onerror=alert(1)>"}'),
            Finished("stop"),
        ]
    )
    footer = Footer("m<script>x</script>", USAGE, 1.0, None, 2.0, status="error", message="<img src=x onerror=1>")
    markup = render_reply_html(snap, footer, open_thinking=True)
    assert not audit(markup, style_blocks=1)
    text = render_reply_text(snap, footer)
    assert "<script>f</script>" in text  # plain text: shown as written, it is not HTML


# --- footer and banners --------------------------------------------------------------------


def test_footer_text_format() -> None:
    footer = Footer("deepseek-v4-flash", USAGE, 3.21, 0.8, 1.5)
    assert footer_text(footer) == "deepseek-v4-flash · 1,234 in (75% cached) · 210 out (198 reasoning) · 3.2 s"


@pytest.mark.parametrize(
    ("cost", "shown"),
    [
        (Decimal("0.0012"), "$0.0012"),
        (Decimal("0.00004"), "<$0.0001"),
        (Decimal("2.5"), "$2.50"),
        (Decimal("1234.5"), "$1,234.50"),
        (Decimal("0"), "$0.00"),
    ],
)
def test_footer_known_costs(cost: Decimal, shown: str) -> None:
    assert footer_text(Footer("m", USAGE, 1.0, None, None, cost=cost)).endswith(f" · {shown}")


def test_unknown_cost_and_usage_show_nothing_rather_than_zero() -> None:
    assert "$" not in footer_text(Footer("m", USAGE, 1.0, None, None, cost=None))
    assert footer_text(Footer(None, None, 75.4, None, None)) == "1 min 15 s"
    no_reasoning = Usage(prompt_tokens=0, completion_tokens=5)
    assert footer_text(Footer("m", no_reasoning, 0.04, None, None)) == "m · 0 in · 5 out · 0.0 s"


def test_an_interrupted_answer_says_its_tokens_and_cost_are_unknown() -> None:
    """Stopped before the server reported usage: the request was billed but what it cost is not
    known, as %deepseek usage says ("+ 1 unknown"); the footer said nothing at all."""
    stopped = Footer("deepseek-v4-flash", None, 2.0, 0.4, None, priced=True, status="interrupted")
    assert footer_text(stopped) == "deepseek-v4-flash · 2.0 s · tokens and cost unknown"
    offline = Footer("deepseek-v4-flash", None, 2.0, 0.4, None, priced=True, offline=True, status="interrupted")
    assert footer_text(offline).endswith(" · tokens and cost unknown")
    assert footer_text(Footer("m", None, 1.0, None, None, priced=True, status="error")) == "m · 1.0 s"  # nothing was billed


def test_an_emulator_answer_shows_what_it_would_cost_never_a_bare_price() -> None:
    footer = Footer("deepseek-v4-flash", USAGE, 1.0, None, None, cost=Decimal("0.00012"), priced=True, offline=True)
    assert footer_text(footer) == (
        "deepseek-v4-flash · 1,234 in (75% cached) · 210 out (198 reasoning) · 1.0 s · $0.0001 if billed (emulator)"
    )
    assert "$0.0001 if billed (emulator)</div>" in footer_html(footer)
    unpriced = Footer("mystery", USAGE, 1.0, None, None, cost=None, priced=True, offline=True)
    assert footer_text(unpriced).endswith(" · unknown if billed (emulator)")  # never $0
    assert footer_text(Footer("m", None, 1.0, None, None, priced=True, offline=True)) == "m · 1.0 s"  # no usage: no cost


def test_footer_html_is_escaped_and_tells_first_token_time() -> None:
    out = footer_html(Footer("<b>m</b>", None, 1.0, 0.25, None))
    assert "&lt;b&gt;m&lt;/b&gt;" in out and 'title="first token after 0.2 s"' in out


@pytest.mark.parametrize(
    ("status", "message", "expected", "kind"),
    [
        ("interrupted", None, "Interrupted — partial answer kept", "warn"),
        ("stopped", None, "Stopped — partial answer kept", "warn"),
        ("length", None, "cut at max_tokens — %deepseek continue, or raise --max-tokens", "warn"),
        ("content_filter", None, "Stopped by the content filter", "warn"),
        ("insufficient_system_resource", None, "insufficient_system_resource", "warn"),
        ("error", "HTTP 500: boom", "The request failed: HTTP 500: boom", "error"),
        ("length", "Stopped at max_tokens: cut short.", "Stopped at max_tokens: cut short.", "warn"),
        ("tool_rounds", None, "tool rounds", "warn"),
    ],
)
def test_status_banners(status: str, message: str | None, expected: str, kind: str) -> None:
    footer = Footer("m", None, 1.0, None, None, status=status, message=message)
    assert expected in (status_text(footer) or "")
    snap = accumulate([TextDelta("partial")])
    assert f'<div class="evo-banner {kind}" role="status">' in render_reply_html(snap, footer)
    assert f"[{status_text(footer)}]" in render_reply_text(snap, footer)


def test_ok_status_has_no_banner() -> None:
    footer = Footer("m", None, 1.0, None, None)
    assert status_text(footer) is None
    assert '<div class="evo-banner' not in render_reply_html(accumulate([TextDelta("hi")]), footer)


# --- whole replies -------------------------------------------------------------------------


def thinking_snapshot() -> TurnSnapshot:
    return accumulate([ReasoningDelta("Consider *both* cases."), TextDelta("**42**"), Finished("stop")])


def test_reply_html_folds_the_thinking() -> None:
    footer = Footer("deepseek-v4-flash", USAGE, 3.2, 0.5, 6.3)
    out = render_reply_html(thinking_snapshot(), footer)
    assert out.startswith('<div class="evo-reply tex2jax_ignore mathjax_ignore"><style>') and out.endswith("</div>")
    assert '<details class="evo-thinking"><summary>Thought for 6.3 s</summary>' in out
    assert "<em>both</em>" in out and '<div class="evo-answer evo-md"><p><strong>42</strong></p>' in out
    assert "210 out (198 reasoning)" in out
    assert '<details class="evo-thinking" open>' in render_reply_html(thinking_snapshot(), footer, open_thinking=True)


def test_reply_without_reasoning_has_no_thinking_section() -> None:
    empty_reasoning = accumulate([ReasoningDelta(""), TextDelta("hi"), Finished("stop")])
    assert empty_reasoning.choice(0).has_reasoning
    for snap in (accumulate([TextDelta("hi")]), empty_reasoning):
        assert "<details" not in render_reply_html(snap, Footer("m", None, 1.0, None, None))


def test_tool_calls_are_shown_escaped() -> None:
    snap = accumulate([ToolCallDelta(0, "c1", "weather", '{"city": "<Oslo>"}'), Finished("tool_calls")])
    out = render_reply_html(snap, Footer("m", None, 1.0, None, None))
    assert '<details class="evo-tool-call"><summary>Tool call <code>weather</code></summary>' in out
    assert "<pre>{&quot;city&quot;: &quot;&lt;Oslo&gt;&quot;}</pre>" in out


def test_stylesheet_is_scoped_and_themed() -> None:
    css = reply_css()
    selectors = re.findall(r"(?:^|})\s*([^{}@]+)\{", css)
    groups = [s for sel in selectors for s in re.split(r",(?![^(]*\))", sel)]  # not the commas inside :is(…)
    assert selectors and all(s.strip().startswith(".evo-reply") for s in groups), groups
    assert "var(--jp-" in css and "var(--vscode-" in css


def test_reply_text_form() -> None:
    snap = accumulate(
        [ReasoningDelta("x" * 1000), TextDelta("Answer\x1b[31m red\r\n"), ToolCallDelta(0, "c", "f", "{}")]
    )
    footer = Footer("m", USAGE, 3.2, None, 6.3, status="interrupted")
    text = render_reply_text(snap, footer)
    thinking, answer, call, status, foot = text.split("\n\n")
    assert thinking == "Thinking (6.3 s):\n" + "x" * 600 + "… (1,000 characters)"
    assert answer == "Answer[31m red" and "\x1b" not in text and "\r" not in text
    assert call == "Tool call: f({})"
    assert status == "[Interrupted — partial answer kept]"
    assert foot == "m · 1,234 in (75% cached) · 210 out (198 reasoning) · 3.2 s"


# --- incremental rendering -----------------------------------------------------------------


def test_n_choices_are_one_answer_each_labelled_alike_with_one_footer_at_the_end() -> None:
    out = render_reply_html(three_choices(), FOOTER)
    labels = re.findall(r'<div class="evo-choice-label">(.*?)</div>', out)
    assert [re.sub(r"<[^>]+>", "", label) for label in labels] == [
        "Choice 1 of 3 · the conversation continues from it",
        "Choice 2 of 3 · %deepseek pick 2 continues from it",
        "Choice 3 of 3 · %deepseek pick 3 continues from it",
    ]
    assert out.count('<section class="evo-choice">') == 3 and out.count('class="evo-footer"') == 1
    for i in range(3):
        assert f"<strong>answer {i + 1}</strong>" in out and f"think {i}" in out
    assert out.index("answer 3") < out.index('class="evo-footer"')
    assert ".evo-reply .evo-choice" in out  # one style for all of them

    text = render_reply_text(three_choices(), FOOTER)
    heads = [line for line in text.splitlines() if line.startswith("Choice ")]
    assert heads == [
        "Choice 1 of 3 (the conversation continues from it):",
        "Choice 2 of 3 (%deepseek pick 2 continues from it):",
        "Choice 3 of 3 (%deepseek pick 3 continues from it):",
    ]
    assert text.endswith("deepseek-v4-flash · 30 in (0% cached) · 90 out (12 reasoning) · 2.0 s")


def test_one_choice_has_no_label() -> None:
    snap = accumulate([TextDelta("just one"), Finished("stop")])
    assert "evo-choice" not in render_reply_html(snap, FOOTER).split("</style>", 1)[1]
    assert "Choice" not in render_reply_text(snap, FOOTER)


def test_a_json_answer_is_shown_as_indented_highlighted_json() -> None:
    snap = accumulate([TextDelta('{"colours": ["red", "blue"], "n": 2}'), Finished("stop")])
    out = render_reply_html(snap, FOOTER, as_json=True)
    assert '<code class="language-json evo-hl">' in out and '"colours"</span>' in out
    text = render_reply_text(snap, FOOTER, as_json=True)
    assert text.startswith(json.dumps({"colours": ["red", "blue"], "n": 2}, indent=2) + "\n\n")
    invalid = accumulate([TextDelta("not {json"), Finished("stop")])  # shown as it came
    assert "<p>not {json</p>" in render_reply_html(invalid, FOOTER, as_json=True)


def test_an_answer_with_code_is_highlighted_and_carries_the_stylesheet() -> None:
    snap = accumulate([TextDelta("Here:\n\n" + PYTHON), Finished("stop")])
    out = render_reply_html(snap, Footer("m", None, 1.0, None, None))
    assert '<code class="language-python evo-hl">' in out and ".evo-hl :is(" in out


MATH_OUTPUTS: dict[str, Callable[[], str]] = {
    "answer": lambda: render_reply_html(dollars_reply().snapshot, dollars_reply().footer),
    "choices": lambda: render_reply_html(
        accumulate([TextDelta(DOLLARS, choice=i) for i in range(3)]), Footer("m", None, 1.0, None, None)
    ),
}


@pytest.mark.parametrize("name", list(MATH_OUTPUTS))
def test_every_html_output_is_skipped_by_mathjax(name: str) -> None:
    assert_skipped_by_mathjax(name, MATH_OUTPUTS[name]())
