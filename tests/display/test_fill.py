"""A FIM answer shown: the completed code with the filled part marked, as HTML (highlighted,
the fill in a <mark>) and as text (a + gutter), and its live view."""

from __future__ import annotations

import html
import io
import re

from hypothesis import given
from hypothesis import strategies as st

from evo_magic.core.events import TextDelta
from evo_magic.core.snapshot import TurnSnapshot
from evo_magic.core.usage import Usage
from evo_magic.display.fill import (
    FillView,
    fill_footer,
    fill_html,
    fill_label,
    fill_text,
    marked_code_html,
    marked_code_text,
)
from evo_magic.display.live import TextView, WidgetView
from evo_magic.display.render import Footer

from .helpers import Clock, FakeHandle, FakeWidget

PROMPT = 'def mean(xs):\n    """'
FILL = 'The mean of xs."""\n    total = sum(xs)\n    count = len(xs)\n'
SUFFIX = "    return total / count\n"
FOOTER = Footer("deepseek-v4-flash", Usage(30, 0, 30, 18), 0.8, 0.2, None)
MARK = re.compile(r'<mark class="evo-fill">(.*?)</mark>', re.S)


def text_of(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


def test_the_whole_code_is_highlighted_as_one_and_the_fill_is_marked() -> None:
    out = marked_code_html(PROMPT, FILL, SUFFIX)
    assert out.startswith('<pre class="evo-fim"><code class="language-python evo-hl">')
    assert text_of(out) == PROMPT + FILL + SUFFIX
    [marked] = MARK.findall(out)  # one mark: the fill, whole
    assert text_of(marked) == FILL
    # the docstring the hole cuts through is one string token, on both sides of the mark's edge
    assert '<span class="hl-sd">"""</span><mark class="evo-fill"><span class="hl-sd">The mean' in out


def test_an_empty_fill_leaves_an_empty_mark_where_it_would_go() -> None:
    out = marked_code_html("x = ", "", "\nprint(x)")
    assert text_of(out) == "x = \nprint(x)"
    before, empty, after = out.partition('<mark class="evo-fill evo-fill-empty" title="nothing was filled in here"></mark>')
    assert empty
    assert text_of(before).endswith("x = ") and text_of(after).startswith("\nprint")
    assert fill_label("") == "Filled in the middle: nothing (the model wrote no text)"


@given(st.text(max_size=60), st.text(max_size=60), st.text(max_size=60), st.sampled_from(["python", "sql", "nope"]))
def test_any_code_reads_back_whole_with_exactly_the_fill_marked(prompt: str, fill: str, suffix: str, lang: str) -> None:
    out = marked_code_html(prompt, fill, suffix, lang)
    assert text_of(out) == prompt + fill + suffix
    assert "".join(text_of(m) for m in MARK.findall(out)) == fill
    gutter = marked_code_text(prompt, fill, suffix)
    lines = gutter.split("\n") if gutter else []
    assert all(line[:2] in ("+ ", "  ") for line in lines)
    assert any(line.startswith("+ ") for line in lines) == bool(fill)


def test_the_text_form_marks_the_lines_the_model_wrote() -> None:
    assert marked_code_text(PROMPT, FILL, SUFFIX) == (
        "  def mean(xs):\n"  # the cell's own line
        + '+     """The mean of xs."""\n'  # the hole was in this line
        + "+     total = sum(xs)\n"
        + "+     count = len(xs)\n"
        + "      return total / count"
    )
    assert marked_code_text("x = ", "compute(y)", "\nprint(x)") == "+ x = compute(y)\n  print(x)"


def test_the_answer_says_how_much_was_filled_with_banner_and_footer() -> None:
    text = fill_text(PROMPT, FILL, SUFFIX, FOOTER)
    assert text.startswith("Filled in the middle: 3 lines, 59 characters (lines marked +):\n\n  def mean(xs):\n+")
    assert text.endswith("deepseek-v4-flash · 30 in (0% cached) · 18 out · 0.8 s")
    page = fill_html(PROMPT, FILL, SUFFIX, FOOTER)
    assert '<div class="evo-fill-label">Filled in the middle: <mark class="evo-fill">3 lines, 59 characters</mark>' in page
    assert page.startswith('<div class="evo-reply tex2jax_ignore mathjax_ignore"><style>') and "mark.evo-fill{" in page
    assert 'class="evo-footer"' in page and 'class="evo-banner' not in page


def test_a_cut_fill_names_the_limit_and_not_continue() -> None:
    cut = Footer("m", Usage(30, 0, 30, 64), 0.8, None, None, status="length", max_tokens=64)
    said = "cut at 64 tokens — raise --max-tokens (FIM writes at most 4,096)"
    assert fill_footer(cut).message == said
    assert f"[{said}]" in fill_text(PROMPT, FILL, SUFFIX, cut)
    assert fill_footer(FOOTER) is FOOTER


def snapshot(text: str) -> TurnSnapshot:
    snap = TurnSnapshot()
    snap.apply(TextDelta(text))
    return snap


def test_the_widget_streams_the_fill_as_code_and_ends_on_the_marked_code() -> None:
    view = FillView(PROMPT, SUFFIX, "python")
    widget, handle = FakeWidget(), FakeHandle()
    view.inner = WidgetView(widget, handle, clock=Clock(), bundle=lambda s, f, o: {"text/plain": view.fill})
    view.widget = True
    view.update(snapshot(FILL[:10]))
    sent = "".join(op.get("a", "") for msg in widget.messages for op in msg.get("ops", []))
    assert "The mean" in sent and 'class="language-python' in sent  # a code block, growing
    view.finish(snapshot(FILL), FOOTER)
    assert handle.updates[-1][0] == {"text/plain": FILL}


def test_the_terminal_streams_the_fill_then_shows_the_completed_code() -> None:
    out = io.StringIO()
    view = FillView(PROMPT, SUFFIX, "python")
    view.inner = TextView(out, clock=Clock())
    view.update(snapshot(FILL[:10]))
    assert out.getvalue() == FILL[:10]
    view.finish(snapshot(FILL), FOOTER)
    shown = out.getvalue()
    assert shown.startswith(FILL + "\n\nFilled in the middle: 3 lines, 59 characters (lines marked +):\n  def mean")
    assert shown.rstrip().endswith("18 out · 0.8 s")
