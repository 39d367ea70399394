"""Rendering: safe markdown, the XSS corpus, footers, banners, the text form, the block splitter."""

from __future__ import annotations

import html
import itertools
import random
import re
from decimal import Decimal
from html.parser import HTMLParser

import pytest

from evo_magic.core.events import Finished, ReasoningDelta, TextDelta, ToolCallDelta
from evo_magic.core.snapshot import TurnSnapshot, accumulate
from evo_magic.core.usage import Usage
from evo_magic.display.markdown import Delta, MarkdownStream, common_prefix, is_safe_link, render_markdown, utf16_len
from evo_magic.display.render import (
    Footer,
    footer_html,
    footer_text,
    render_reply_html,
    render_reply_text,
    reply_css,
    status_text,
)

from .conftest import FIXTURES

CORPUS = (FIXTURES / "xss_corpus.txt").read_text(encoding="utf-8").split("\n%%\n")
USAGE = Usage(
    prompt_tokens=1234, cache_hit_tokens=926, cache_miss_tokens=308, completion_tokens=210, reasoning_tokens=198
)
ALLOWED_TAGS = {
    "a", "blockquote", "br", "code", "del", "details", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "li", "ol", "p", "pre", "s", "span", "strong", "summary", "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip


class Audit(HTMLParser):
    """Every tag and attribute of an HTML string, judged independently of the renderer's own check."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS and tag != "style":
            self.problems.append(f"tag <{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"event handler {name}")
            if name in ("href", "src", "action", "formaction", "xlink:href") and value is not None:
                squeezed = re.sub(r"[\x00-\x20\x7f-\x9f]", "", html.unescape(value)).lower()
                scheme = re.match(r"([a-z][a-z0-9+.-]*):", squeezed)
                if scheme and scheme.group(1) not in ("http", "https", "mailto"):
                    self.problems.append(f"{name}={value!r}")


def audit(markup: str, *, style_blocks: int = 0) -> list[str]:
    parser = Audit()
    parser.feed(markup)
    parser.close()
    problems = parser.problems
    if markup.lower().count("<style") != style_blocks:
        problems.append("unexpected <style>")
    if re.search(r"<script", markup, re.I):
        problems.append("<script")
    return problems


# --- markdown ------------------------------------------------------------------------------


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


def test_streamed_corpus_is_inert_in_every_message() -> None:
    corpus = "\n\n".join(CORPUS)
    stream = MarkdownStream()
    for end in range(1, len(corpus) + 1, 7):
        delta = stream.update(corpus[:end])
        assert not audit("".join(delta.committed)) and not audit(stream.tail_html)


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
        ("length", None, "Stopped: max_tokens reached", "warn"),
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


def replay(state: dict, delta: Delta) -> None:
    """What display/live.js does with one op (tail indexes in UTF-16 code units)."""
    tail = state["tail"].encode("utf-16-le", "surrogatepass")
    if delta.moved:
        state["blocks"].append(tail[: 2 * delta.moved].decode("utf-16-le", "surrogatepass"))
        tail = tail[2 * delta.moved :]
    state["blocks"].extend(delta.committed)
    state["tail"] = (tail[: 2 * delta.keep] + delta.append.encode("utf-16-le", "surrogatepass")).decode("utf-16-le", "surrogatepass")


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
    for trial in range(250):
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
