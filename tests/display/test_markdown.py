"""An answer cut short (Stop, Ctrl-C, an error, max_tokens) still renders as markdown:
:func:`evo_magic.display.markdown.close_markdown` closes the inline markup the cut left open.
(The rest of the markdown module is tested in test_render.py.)"""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evo_magic.core.events import ReasoningDelta, TextDelta
from evo_magic.core.snapshot import TurnSnapshot
from evo_magic.display.markdown import close_markdown, common_prefix, render_markdown
from evo_magic.display.render import Footer, render_reply_html


def shown(markdown: str) -> str:
    """The text a reader sees (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", "", render_markdown(markdown)))


@pytest.mark.parametrize(
    ("cut", "closed"),
    [
        ("**In", "**In**"),
        ("**In short.*", "**In short.**"),
        ("Some *emphasis and **strong", "Some *emphasis and **strong***"),
        ("Run `pip inst", "Run `pip inst`"),
        ("Use ``a ` b", "Use ``a ` b``"),
        ("~~gone", "~~gone~~"),
        ("**bold `code", "**bold `code`**"),
        ("## 2. A **check", "## 2. A **check**"),
        ("1. *Document", "1. *Document*"),
        ("| a | **b", "| a | **b**"),
        ("text **", "text"),
        ("text **  ", "text"),
        ("Done.\n\n**", "Done."),
        ("```python\nx = 1\n``", "```python\nx = 1"),
        ("```python\nx = 1\n", "```python\nx = 1\n"),  # an open fence already renders as code
        ("**Note:** fine", "**Note:** fine"),  # nothing open
        ("2 * 3 = 6, a*b and snake_case_name", "2 * 3 = 6, a*b and snake_case_name"),
        ("`a` and **b", "`a` and **b**"),
        ("**open\n\nnew paragraph *x", "**open\n\nnew paragraph *x*"),  # emphasis never spans paragraphs
        ("- **a\n- b", "- **a\n- b"),  # nor list items
        ("escaped \\*star", "escaped \\*star"),
        ("", ""),
    ],
)
def test_open_markup_is_closed(cut: str, closed: str) -> None:
    assert close_markdown(cut) == closed


def test_a_stopped_answer_renders_its_cut_bold_as_bold() -> None:
    snap = TurnSnapshot().apply(ReasoningDelta("Think *care")).apply(TextDelta("**In"))
    html_ = render_reply_html(snap, Footer("m", None, 1.0, None, None, status="stopped", message="Stopped"))
    assert "<strong>In</strong>" in html_ and "**" not in html_
    assert "<em>care</em>" in html_
    done = render_reply_html(snap, Footer("m", None, 1.0, None, None))
    assert "**In" in done  # a complete answer is shown exactly as written


# Documents made of words and balanced inline markup, as a model writes them.
WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8)
WORDS = st.lists(WORD, min_size=1, max_size=4).map(" ".join)
SPAN = st.one_of(
    WORDS,
    WORDS.map(lambda w: f"**{w}**"),
    WORDS.map(lambda w: f"*{w}*"),
    WORDS.map(lambda w: f"_{w}_"),
    WORDS.map(lambda w: f"~~{w}~~"),
    WORDS.map(lambda w: f"`{w}`"),
    WORDS.map(lambda w: f"**{w} *{w}* {w}**"),
)
LINE = st.lists(SPAN, min_size=1, max_size=5).map(" ".join)
PREFIX = st.sampled_from(["", "# ", "- ", "1. ", "> "])
DOC = st.lists(st.tuples(PREFIX, LINE).map("".join), min_size=1, max_size=4).map("\n\n".join)


@settings(max_examples=150, deadline=None)
@given(DOC, st.data())
def test_any_cut_of_a_document_renders_without_stray_markup(doc: str, data: st.DataObject) -> None:
    assert close_markdown(doc) == doc  # a complete document is left alone
    cut = doc[: data.draw(st.integers(0, len(doc)), label="cut")]
    closed = close_markdown(cut)
    text = shown(closed)
    assert not re.search(r"[*_~`]", text), (cut, closed, text)  # every marker was rendered as markup
    # nothing the reader had is lost: every word character of the cut is still shown
    words = re.sub(r"(?m)^\d+\.", "", cut)  # (a list item's number is its marker, not its text)
    assert re.sub(r"\W", "", text) == re.sub(r"[\W_]", "", words), (cut, closed, text)
    assert close_markdown(closed) == closed


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.one_of(st.sampled_from("*_~`\\ \n#-|>1."), st.characters())))
def test_any_text_only_loses_trailing_markers_and_gains_closers(text: str) -> None:
    closed = close_markdown(text)
    same = common_prefix(text, closed)
    dropped, added = text[same:], closed[same:]
    assert all(c in "*_~`" or c.isspace() for c in dropped), (text, closed)
    assert set(added) <= set("*_~`"), (text, closed)
