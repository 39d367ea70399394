"""Every character of an answer reaches the HTML; nothing executable does (Hypothesis properties).

The oracle is independent of the renderer: it reads the HTML with the standard library's parser
and asks that every letter, digit and astral character of the markdown source appears, in
order, in what a reader can see — the text content, plus the destination and title of each link
(read after the link's text, where the source has them). Only what CommonMark itself turns into
something else is left out of the source first, so the check is sound (it never asks for a
character the renderer may rightly drop) while staying strict about everything else:

* character references (``&amp;``, ``&#65;``) are decoded, so their letters are not required;
* the info string after an opening code fence becomes a class name at most;
* ordered-list markers (``3.``, ``12)``) become list numbering;
* link reference definitions (``[a]: /url``) are never shown by design: documents with one
  (any ``]:``) are not generated, and :func:`test_reference_definitions_are_used_not_lost`
  covers them.
"""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser
from urllib.parse import unquote

from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from evo_magic.core.events import Finished, TextDelta
from evo_magic.core.snapshot import accumulate
from evo_magic.display.markdown import MarkdownStream, render_markdown
from evo_magic.display.render import Footer, render_reply_html

from .test_render import CORPUS, audit, replay

_REFERENCE = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_FENCE_INFO = re.compile(r"(?:`{3,}|~{3,})[^\n]*")
_ORDERED_MARKER = re.compile(r"(?<![^\s>])[0-9]{1,9}[.)]")
_PUNYCODE = re.compile(r"xn--[a-z0-9-]+", re.I)


def counted(ch: str) -> bool:
    """Letters, digits and astral characters (emoji, rare CJK): what must never be lost."""
    return ch.isalnum() or ord(ch) > 0xFFFF


def required(source: str) -> str:
    """The characters of ``source`` a reader must find in the HTML, in order."""
    text = _FENCE_INFO.sub(" ", source)
    text = _REFERENCE.sub(" ", text)
    text = _ORDERED_MARKER.sub(" ", text)
    return "".join(ch for ch in text if counted(ch))


def _decoded_hosts(url: str) -> str:
    def decode(m: re.Match[str]) -> str:
        try:
            return m.group()[4:].encode("ascii").decode("punycode")
        except (UnicodeError, ValueError):
            return m.group()

    return _PUNYCODE.sub(decode, url)


def _link_bag(href: str, title: str) -> Counter[str]:
    """What a link shows besides its text: its destination in any of the forms it may be
    written in (as in the HTML, percent-decoded, host names decoded) and its title."""
    bag: Counter[str] = Counter()
    for form in (href, unquote(href), _decoded_hosts(unquote(href))):
        bag |= Counter(ch for ch in form if counted(ch))
    return bag + Counter(ch for ch in title if counted(ch))


class Visible(HTMLParser):
    """Text content in document order, and after each link's text the :func:`_link_bag` of its
    href and title (matched in any order). ``<style>`` content is not visible."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str | Counter[str]] = []
        self.links: list[Counter[str]] = []
        self.style = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "style":
            self.style += 1
        if tag == "a":
            found = dict(attrs)
            self.links.append(_link_bag(found.get("href") or "", found.get("title") or ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self.style -= 1
        if tag == "a" and self.links:
            self.parts.append(self.links.pop())

    def handle_data(self, data: str) -> None:
        if not self.style:
            self.parts.append(data)


def missing(source: str, markup: str) -> str:
    """The part of ``required(source)`` from the first character the HTML does not show in
    order ('' when it shows them all). Greedy matching is exact here: taking a character as
    early as possible never costs a later match, and a link's bag takes what it can."""
    want, i = required(source), 0
    parser = Visible()
    parser.feed(markup)
    parser.close()
    for part in parser.parts:
        if isinstance(part, Counter):
            bag = part.copy()
            while i < len(want) and bag[want[i]] > 0:
                bag[want[i]] -= 1
                i += 1
            continue
        for ch in part:
            if i < len(want) and ch == want[i]:
                i += 1
    return want[i:]


# --- documents ---------------------------------------------------------------------------

WORD = st.text(
    alphabet=st.sampled_from(list("abcxyzABZ0189éßж中文😀𝔘 *_`~[]()<>!#|\\-+.:;&\"'=/%@")) | st.characters(),
    min_size=1,
    max_size=12,
)
PREFIX = st.sampled_from(["", "", "  ", "    ", "\t", "- ", "* ", "1. ", "2) ", "> ", "# ", "## ", "    - ", "> - "])
LINE = st.builds(lambda p, words: p + " ".join(words), PREFIX, st.lists(WORD, max_size=6))
BLOCK = st.sampled_from(
    [
        "```python\nx = 1  # 😀\n```",
        "~~~\nraw <b>\n~~~",
        "| a | b |\n|---|:-:|\n| 1 | 2 | 3 |\n| 4 |",
        "[link](https://example.org/ä?q=%41 \"the title\") and <https://ü.example/p>",
        '![alt `code` **b**](https://example.org/i.png "image title")',
        "Setext\n===",
        "***",
        "&amp; &#65; &copy; &bogus;",
        "a  \nhard break\\\nand more",
    ]
)


@st.composite
def nested(draw: st.DrawFn) -> str:
    """Lists, quotes or both nested ``depth`` deep (markdown-it stops at its nesting limit)."""
    depth = draw(st.integers(1, 60))
    kind = draw(st.sampled_from(["list", "ordered", "quote", "mixed", "indented"]))
    lines = []
    for level in range(depth):
        if kind == "list":
            prefix = "  " * level + "- "
        elif kind == "ordered":
            prefix = "   " * level + "1. "
        elif kind == "quote":
            prefix = ">" * (level + 1) + " "
        elif kind == "mixed":
            prefix = "> - " * (level // 2 + 1)
        else:
            prefix = "    " * (level // 4) + "- " * (level % 4 + 1)
        lines.append(prefix + draw(WORD).replace("\n", " ") + f" level{level}")
    return "\n".join(lines)


DOCUMENT = st.lists(st.one_of(LINE, BLOCK, nested()), min_size=1, max_size=12).map("\n".join).flatmap(
    lambda doc: st.sampled_from(["", "\n", "\n\n"]).map(lambda sep: doc + sep + "Text after the rest.")
)

DEEP_LIST = "".join("  " * i + f"- level {i}\n" for i in range(14)) + "\nText after the list.\n"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCUMENT)
@example(DEEP_LIST)
@example("> " * 30 + "deep quote\n\nafter the quote")
@example("| a | b |\n|---|---|\n| 1 | 2 | 3 |")
@example('![a](https://x.org/i.png "TITLE")')
def test_every_character_of_the_source_reaches_the_html(source: str) -> None:
    assume("]:" not in source)
    markup = render_markdown(source)
    assert missing(source, markup) == "", markup
    assert not audit(markup), markup


def test_a_list_nested_deeper_than_the_parser_goes_keeps_its_text_and_what_follows() -> None:
    markup = render_markdown(DEEP_LIST)
    for i in range(14):
        assert f"level {i}" in markup
    assert "<p>Text after the list.</p>" in markup
    assert markup.count("<ul>") >= 8  # the first levels are still a real list


def test_reference_definitions_are_used_not_lost() -> None:
    markup = render_markdown("see [the docs][d]\n\n[d]: https://example.org/docs 'Docs'\n")
    assert 'href="https://example.org/docs" title="Docs"' in markup and ">the docs</a>" in markup


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCUMENT, st.data())
def test_the_incremental_render_agrees_with_the_whole_render(source: str, data: st.DataObject) -> None:
    """Committed blocks + the tail, at any split of the stream, render as the whole document does."""
    assume("]:" not in source)
    stream, state = MarkdownStream(), {"blocks": [], "tail": ""}
    cuts = [*sorted(set(data.draw(st.lists(st.integers(1, len(source)), max_size=8)))), len(source)]
    for end in cuts:
        replay(state, stream.update(source[:end]))
        assert state["tail"] == stream.tail_html
    assert state["tail"] == render_markdown(source[stream.committed :], highlight=False)
    assert "".join(state["blocks"]) + render_markdown(source[stream.committed :]) == render_markdown(source)
    assert missing(source, "".join(state["blocks"]) + state["tail"]) == ""


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(CORPUS) | DOCUMENT, min_size=1, max_size=6).map("\n\n".join))
def test_nothing_executable_survives_any_mix_of_attacks_and_markdown(source: str) -> None:
    snap = accumulate([TextDelta(source), Finished("stop")])
    reply = render_reply_html(snap, Footer("m", None, 1.0, None, None))
    for markup, style_blocks in ((render_markdown(source), 0), (reply, 1)):
        problems = audit(markup, style_blocks=style_blocks)  # model text never opens a <style>
        assert not problems, (problems, markup)


def test_a_lone_surrogate_streams_as_one_utf16_unit() -> None:
    """JSON escapes can carry half a surrogate pair (``"\\ud83d"``); the live view must not break."""
    stream = MarkdownStream()
    stream.update("a \ud83d")
    delta = stream.update("a \ud83d b")
    assert delta.keep == len("<p>a \ud83d") and delta.append == " b</p>\n"
