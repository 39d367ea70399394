from __future__ import annotations

import random
import re
from decimal import Decimal

import pytest

from evo_magic.events import Finished, ReasoningDelta, TextDelta, ToolCallDelta
from evo_magic.render import (
    Footer,
    MarkdownStream,
    footer_text,
    render_markdown,
    render_reply_html,
    render_reply_text,
    utf16_len,
)
from evo_magic.snapshot import accumulate
from evo_magic.usage import Usage

from .conftest import FIXTURES

DANGER = re.compile(r"<script|<iframe|<svg|<[a-z][^>]*\son\w+\s*=|href=\"(?:javascript|vbscript|data|file):", re.I)


@pytest.mark.parametrize("line", (FIXTURES / "xss_corpus.txt").read_text().split("\n"))
def test_no_active_content_survives(line: str) -> None:
    html = render_markdown(line)
    assert not DANGER.search(html), html


def test_whole_corpus_in_a_reply() -> None:
    corpus = (FIXTURES / "xss_corpus.txt").read_text()
    snap = accumulate([ReasoningDelta(corpus), TextDelta(corpus), ToolCallDelta(0, "c", "<script>", "<img onerror=1>"), Finished("stop")])
    html = render_reply_html(snap, Footer("m<script>", None, 1.0, status="error", message="<script>bad</script>"))
    assert not DANGER.search(html)


def test_markdown_features_and_safe_links() -> None:
    html = render_markdown("# T\n\n- a\n\n| x | y |\n|---|---|\n| 1 | 2 |\n\n```py\nx = 1\n```\n\n[ok](https://x.org) ~~s~~")
    assert "<h1>" in html and "<table>" in html and 'class="language-py"' in html and "<s>s</s>" in html
    assert 'rel="noopener noreferrer nofollow"' in html and 'target="_blank"' in html


def test_footer_formats() -> None:
    u = Usage(prompt_tokens=1234, cache_hit_tokens=926, cache_miss_tokens=308, completion_tokens=210, reasoning_tokens=198)
    text = footer_text(Footer("deepseek-v4-flash", u, 3.21))
    assert text == "deepseek-v4-flash · 1,234 in (75% cached) · 210 out (198 reasoning) · cost unknown · 3.2 s"
    assert "$0.0012" in footer_text(Footer("m", u, 1, cost=Decimal("0.0012")))
    assert "$0" not in footer_text(Footer("m", u, 1, cost=None))
    assert "usage not reported" in footer_text(Footer("m", None, 1))


def test_reply_html_and_text() -> None:
    snap = accumulate([ReasoningDelta("thinking hard"), TextDelta("**Answer**"), Finished("stop")])
    f = Footer("deepseek-v4-pro", None, 2.0, thinking_seconds=1.25, status="interrupted", message="Interrupted — kept")
    html = render_reply_html(snap, f)
    assert '<details class="evo-thinking">' in html and "Thought for 1.2 s" in html
    assert "<strong>Answer</strong>" in html and "evo-banner" in html and "Interrupted" in html
    text = render_reply_text(snap, f)
    assert "thinking hard" in text and "**Answer**" in text and "[Interrupted — kept]" in text


def replay(ops: list, target: dict) -> None:
    for delta in ops:
        if delta is None:
            continue
        target["blocks"].extend(delta.commit)
        tail16 = target["tail"].encode("utf-16-le")
        target["tail"] = tail16[: 2 * delta.keep].decode("utf-16-le") + delta.append


DOC_PARTS = ["# Title 🚀\n\n", "Some *text* with emoji 😀 and `code`.\n\n", "- item one\n- item two\n\n",
             "1. first\n2. second\n\n", "```python\nfor i in range(3):\n    print(i)\n```\n\n",
             "| a | b |\n|---|---|\n| 1 | 2 |\n\n", "> quote\n\n", "Final paragraph ünïcode."]


def test_markdown_stream_replays_to_the_rendering() -> None:
    rng = random.Random(7)
    for trial in range(30):
        doc = "".join(rng.choice(DOC_PARTS) for _ in range(8))
        stream, state, pos = MarkdownStream(), {"blocks": [], "tail": ""}, 0
        while pos < len(doc):
            pos = min(len(doc), pos + rng.randint(1, 25))
            replay([stream.update(doc[:pos])], state)
            committed = doc[: stream.committed]
            assert "".join(state["blocks"]) == "".join(state["blocks"])  # blocks only grow
            assert state["tail"] == render_markdown(doc[stream.committed : pos]), (trial, pos)
        assert render_markdown(doc[: stream.committed]).count("<") >= 0
        assert committed == doc[: stream.committed]


def test_utf16_length_counts_surrogates() -> None:
    assert utf16_len("a😀") == 3 and utf16_len("é") == 1
