"""An answer cut short (Stop, Ctrl-C, an error, max_tokens) still renders as markdown:
:func:`evo_magic.display.markdown.close_markdown` closes the inline markup the cut left open.
(The rest of the markdown module is tested in test_render.py.)"""

from __future__ import annotations

import html
import itertools
import random
import re
from collections import Counter
from html.parser import HTMLParser
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from evo_magic.core.events import Finished, ReasoningDelta, TextDelta
from evo_magic.core.snapshot import TurnSnapshot, accumulate
from evo_magic.display.markdown import (
    Delta,
    MarkdownStream,
    close_markdown,
    common_prefix,
    is_safe_link,
    render_markdown,
    utf16_len,
)
from evo_magic.display.render import (
    Footer,
    render_reply_html,
)

from ..profiles import examples
from .helpers import CORPUS, audit, replay


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


@settings(max_examples=examples(150), deadline=None)
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


@settings(max_examples=examples(200), deadline=None)
@given(st.text(alphabet=st.one_of(st.sampled_from("*_~`\\ \n#-|>1."), st.characters())))
def test_any_text_only_loses_trailing_markers_and_gains_closers(text: str) -> None:
    closed = close_markdown(text)
    same = common_prefix(text, closed)
    dropped, added = text[same:], closed[same:]
    assert all(c in "*_~`" or c.isspace() for c in dropped), (text, closed)
    assert set(added) <= set("*_~`"), (text, closed)


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


TEXT_WORD = st.text(
    alphabet=st.sampled_from(list("abcxyzABZ0189éßж中文😀𝔘 *_`~[]()<>!#|\\-+.:;&\"'=/%@")) | st.characters(),
    min_size=1,
    max_size=12,
)


LINE_PREFIX = st.sampled_from(["", "", "  ", "    ", "\t", "- ", "* ", "1. ", "2) ", "> ", "# ", "## ", "    - ", "> - "])


TEXT_LINE = st.builds(lambda p, words: p + " ".join(words), LINE_PREFIX, st.lists(TEXT_WORD, max_size=6))


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
        lines.append(prefix + draw(TEXT_WORD).replace("\n", " ") + f" level{level}")
    return "\n".join(lines)


DOCUMENT = st.lists(st.one_of(TEXT_LINE, BLOCK, nested()), min_size=1, max_size=12).map("\n".join).flatmap(
    lambda doc: st.sampled_from(["", "\n", "\n\n"]).map(lambda sep: doc + sep + "Text after the rest.")
)


DEEP_LIST = "".join("  " * i + f"- level {i}\n" for i in range(14)) + "\nText after the list.\n"


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
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


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
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


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
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


def test_markdown_features() -> None:
    out = render_markdown(
        "# T\n\n- a\n- b\n\n| x | y |\n|:--|--:|\n| 1 | 2 |\n\n```py\nx = 1\n```\n\n~~gone~~ *em* **strong**"
    )
    assert "<h1>T</h1>" in out and "<li>a</li>" in out and "<table>" in out
    assert '<td style="text-align:right">2</td>' in out
    assert '<pre><code class="language-py evo-hl">x <span class="hl-o">=</span> <span class="hl-mi">1</span>' in out
    assert "<s>gone</s>" in out and "<em>em</em>" in out and "<strong>strong</strong>" in out


def test_links_open_in_a_new_tab_without_referrer() -> None:
    out = render_markdown("[docs](https://example.org/a?b=1&c=2) and <mailto:me@example.org>")
    assert (
        '<a href="https://example.org/a?b=1&amp;c=2" rel="noopener noreferrer nofollow" target="_blank">docs</a>' in out
    )
    assert '<a href="mailto:me@example.org" rel="noopener noreferrer nofollow" target="_blank">' in out


@pytest.mark.parametrize(
    "url", ["https://x.org", "http://x.org/p", "mailto:a@b.c", "docs/page.md", "/abs/path", "#section", "?q=1", "../up"]
)
def test_safe_links_survive(url: str) -> None:
    assert is_safe_link(url)
    assert f'href="{html.escape(url)}"' in render_markdown(f"[x]({url})")


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        " javascript:alert(1)",
        "java\nscript:alert(1)",
        "java\tscript:alert(1)",
        "java%0Ascript:alert(1)",
        "&#106;avascript:alert(1)",
        "javascript&#58;alert(1)",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
        "data:text/html;base64,PHNjcmlwdD4=",
        "data:image/png;base64,iVBORw0KGgo=",
    ],
)
def test_dangerous_links_are_refused(url: str) -> None:
    assert not is_safe_link(url)
    for source in (f"[x]({url})", f"<{url}>", f"![x]({url})", f"[x][r]\n\n[r]: {url}"):
        out = render_markdown(source)
        assert not audit(out), (source, out)
        if "\n" not in url:  # one destination: refused outright, not split into a harmless one
            assert "href=" not in out and "src=" not in out, (source, out)


def test_fence_language_is_escaped() -> None:
    out = render_markdown('```py"><script>x\ncode\n```')
    assert 'class="language-py&quot;&gt;&lt;script&gt;x"' in out and not audit(out)


def test_images_become_links_and_are_never_loaded() -> None:
    out = render_markdown('![a "chart"](https://example.org/c.png)')
    assert "<img" not in out
    assert 'href="https://example.org/c.png"' in out and "[image: a &quot;chart&quot;]" in out
    assert "<img" not in render_markdown("![x](javascript:alert(1))")


@pytest.mark.parametrize("entry", CORPUS, ids=[f"xss{i}" for i in range(len(CORPUS))])
def test_xss_corpus_renders_inert(entry: str) -> None:
    assert not audit(render_markdown(entry)), render_markdown(entry)


def test_streamed_corpus_is_inert_in_every_message() -> None:
    corpus = "\n\n".join(CORPUS)
    stream = MarkdownStream()
    for end in range(1, len(corpus) + 1, 7):
        delta = stream.update(corpus[:end])
        assert not audit("".join(delta.committed)) and not audit(stream.tail_html)


PIECES = [
    "# Title {n} 🚀\n", "Setext {n}\n", "===\n", "---\n", "***\n", "***x\n", "para {n} *em* **bold** `code` é\n",
    "\n", "\n\n", "- item {n}\n", "  continued {n}\n", "1. one {n}\n", "> quote {n}\n", "> - nested {n}\n",
    "```python\nx = {n}  # 😀\n", "```\n", "    indented {n}\n", "| a | b |\n", "|---|---|\n", "| {n} | 😀 |\n",
    "[link](https://x.org/{n}) ~~del~~\n", "<script>alert({n})</script>\n", "foo\n***\n", "a | b\n", "|\n", "*",
]  # fmt: skip


def random_document(rng: random.Random) -> str:
    return "".join(rng.choice(PIECES).format(n=i) for i in range(rng.randint(1, 40)))


def test_stream_replay_matches_rendering_at_every_step() -> None:
    rng = random.Random(20261122)
    for trial in range(examples(250)):  # a seeded search: the full 250 under HYPOTHESIS_PROFILE=ci
        doc = random_document(rng)
        stream, state, pos, cuts = MarkdownStream(), {"blocks": [], "tail": ""}, 0, [0]
        while pos < len(doc):
            pos = min(len(doc), pos + rng.choice([1, 2, 3, 7, 30, 200]))
            replay(state, stream.update(doc[:pos]))
            if stream.committed != cuts[-1]:
                cuts.append(stream.committed)
            parts = [render_markdown(doc[a:b]) for a, b in itertools.pairwise(cuts)]
            assert "".join(state["blocks"]) == "".join(parts), (trial, pos)
            assert state["tail"] == render_markdown(doc[stream.committed : pos], highlight=False), (trial, pos)
        # the open tail is shown without highlighting; rendered as the final answer is, it completes the whole
        assert "".join(state["blocks"]) + render_markdown(doc[stream.committed :]) == render_markdown(doc), trial


LINKED = [*PIECES, "[r{n}]: https://example.org/{n}\n", "see [r{n}] and [r3] and [r7]\n", "[r3]: /three 'Three'\n"]


def test_committed_blocks_resolve_links_as_the_carried_definitions_say() -> None:
    """Each committed part renders as its source does with the definitions of the parts before
    it and its own (the live view parses the tail once and renders the committed blocks from
    that parse; a definition in the part still open is not used early)."""
    rng, resolved = random.Random(20261130), 0
    for trial in range(examples(150)):
        doc = "".join(rng.choice(LINKED).format(n=rng.randint(0, 9)) for _ in range(rng.randint(1, 40)))
        stream, state, pos, cuts = MarkdownStream(), {"blocks": [], "tail": ""}, 0, [0]
        while pos < len(doc):
            pos = min(len(doc), pos + rng.choice([1, 3, 11, 60]))
            replay(state, stream.update(doc[:pos]))
            if stream.committed != cuts[-1]:
                cuts.append(stream.committed)
        carried: dict[str, dict[str, str]] = {}
        parts = [render_markdown(doc[a:b], carried) for a, b in itertools.pairwise(cuts)]
        assert "".join(state["blocks"]) == "".join(parts), trial
        resolved += "".join(parts).count('href="')
    assert resolved > 0  # the documents do use their definitions


def test_stream_commits_only_finished_blocks() -> None:
    stream = MarkdownStream()
    stream.update("foo\n***")  # still "foo" + <hr>, but the last line may become "***x"
    assert stream.committed == 0
    stream.update("foo\n***x\n")
    assert stream.committed == 0 and stream.tail_html == "<p>foo\n***x</p>\n"
    stream.update("foo\n***x\n\nnext")  # one block in the complete lines
    assert stream.committed == 0
    stream.update("foo\n***x\n\nnext\n")
    assert stream.committed == len("foo\n***x\n\n")


def test_reference_definitions_carry_forward() -> None:
    doc = "[r]: https://x.org\n\nsee [r]\n\nand [r] again\n\n[late]\n\nmore\n\n[late]: https://y.org\n"
    stream, state = MarkdownStream(), {"blocks": [], "tail": ""}
    for end in range(1, len(doc) + 1):
        replay(state, stream.update(doc[:end]))
    live = "".join(state["blocks"]) + state["tail"]
    assert live.count('href="https://x.org"') == 2
    # documented difference: a definition arriving after its use was committed stays unresolved live
    assert "<p>[late]</p>" in live and 'href="https://y.org"' in render_markdown(doc)


def test_tail_delta_counts_utf16_units() -> None:
    stream = MarkdownStream()
    first = stream.update("😀 é a")
    assert first.keep == 0 and first.append == "<p>😀 é a</p>\n"
    second = stream.update("😀 é ab")
    assert second.keep == utf16_len("<p>😀 é a") == len("<p>😀 é a") + 1 and second.append == "b</p>\n"
    assert stream.update("😀 é ab") == Delta(keep=utf16_len(stream.tail_html), changed=False)
    with pytest.raises(ValueError, match="only grow"):
        stream.update("😀")


def test_one_huge_block_is_sent_in_linear_bytes() -> None:
    fence = "```python\n" + "".join(f"value_{i} = compute({i})\n" for i in range(800))
    stream, sent, steps = MarkdownStream(), 0, range(0, len(fence), 40)
    for end in steps:
        sent += len(stream.update(fence[: end + 40]).append)
    assert stream.committed == 0
    # each step re-sends only the closing "</code></pre>\n" besides the new text
    assert sent <= len(render_markdown(fence)) + len("</code></pre>\n") * len(steps)


def test_committed_blocks_are_moved_not_resent() -> None:
    stream = MarkdownStream()
    stream.update("first paragraph\n\nsec")
    delta = stream.update("first paragraph\n\nsecond\n\nthird")
    # "third" is on a line still being written: only the blocks before "second" are final
    assert delta.moved == utf16_len("<p>first paragraph</p>\n") and delta.committed == ()
    assert delta.to_message() == {"m": delta.moved, "k": len("<p>sec"), "a": "ond</p>\n<p>third</p>\n"}


def test_common_prefix() -> None:
    assert common_prefix("", "abc") == 0
    assert common_prefix("abc", "abc") == 3
    assert common_prefix("abcd", "abXd") == 2
    assert common_prefix("x" * 1000 + "a", "x" * 1000 + "b") == 1000
    rng = random.Random(3)
    for _ in range(300):
        a = "".join(rng.choice("ab") for _ in range(rng.randint(0, 12)))
        b = "".join(rng.choice("ab") for _ in range(rng.randint(0, 12)))
        expected = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
        assert common_prefix(a, b) == expected
