"""Code blocks of answers are highlighted (Pygments classes, themed stylesheet), safely."""

from __future__ import annotations

import html
import re

import pytest

from evo_magic.core.events import Finished, TextDelta
from evo_magic.core.snapshot import accumulate
from evo_magic.display.highlight import PREFIX, STYLES, highlight, highlight_css
from evo_magic.display.markdown import MarkdownStream, render_markdown
from evo_magic.display.render import Footer, render_reply_html, reply_css

from .test_render import audit

PYTHON = "```python\nimport os\n\ndef add_one(x):\n    return x + 1  # one more\n\nprint(add_one(41), f'{os.sep}')\n```\n"


def spans(markup: str) -> dict[str, str]:
    """The class of each highlighted token text, at its first occurrence."""
    found: dict[str, str] = {}
    for cls, text in re.findall(r'<span class="hl-(\w+)">([^<]*)</span>', markup):
        found.setdefault(text, cls)
    return found


def test_a_python_block_has_token_classes_inside_pre_code_with_its_language() -> None:
    out = render_markdown(PYTHON)
    assert out.startswith('<pre><code class="language-python evo-hl">') and out.endswith("</code></pre>\n")
    found = spans(out)
    assert found["import"] == "kn" and found["def"] == "k" and found["return"] == "k"
    assert found["add_one"] == "nf" and found["print"] == "nb" and found["41"] == "mi" and found["f"] == "sa"
    assert "x" not in found and "os" not in found  # plain names get no span
    assert found["# one more"] == "c1"
    assert 'style="' not in out  # classes, never inline styles
    code = PYTHON.split("\n", 1)[1].removesuffix("```\n")
    assert html.unescape(re.sub(r"<[^>]+>", "", out)) == code + "\n"  # every character, and no other


@pytest.mark.parametrize("fence", ["```nosuchlanguage\n<b>x</b>\n```", "```\n<b>x</b>\n```", "    <b>x</b>"])
def test_unknown_or_no_language_stays_plain(fence: str) -> None:
    out = render_markdown(fence)
    assert "<span" not in out and "evo-hl" not in out and "&lt;b&gt;x&lt;/b&gt;" in out


def test_language_names_are_pygments_aliases_in_any_case() -> None:
    for name in ("py", "Python", "js", "bash", "SQL", "json"):
        assert 'class="hl-' in render_markdown(f"```{name}\nselect 1; x = {{\"a\": 1}}\n```"), name


def test_highlighted_code_stays_inert() -> None:
    for lang in ("python", "html", "js"):
        out = render_markdown(f'```{lang}\n<script>alert(1)</script><img src=x onerror="alert(1)">\n```')
        assert "<script" not in out and not audit(out)
        assert "<script>alert(1)</script>" in html.unescape(re.sub(r"<[^>]+>", "", out))


def test_huge_blocks_stay_plain() -> None:
    assert highlight("x = 1\n" * 20_000, "python") is None
    assert highlight("x = 1\n", "python") is not None


def test_the_stylesheet_colours_every_pygments_class_of_the_common_kinds() -> None:
    from pygments import token

    known = set(token.STANDARD_TYPES.values())
    named = [n for names in STYLES for n in names]
    assert len(named) == len(set(named)) and set(named) <= known
    for kind in (token.Keyword, token.Name.Builtin, token.Name.Function, token.Name.Class, token.String,
                 token.Number, token.Comment, token.Operator, token.Name.Decorator, token.Generic.Deleted):  # fmt: skip
        for ttype, name in token.STANDARD_TYPES.items():
            if ttype in kind and name != "cp":
                assert name in named, (ttype, name)
    css = highlight_css()
    assert "var(--jp-mirror-editor-keyword-color" in css and "var(--jp-mirror-editor-string-color" in css
    assert f".{PREFIX}k," in css and css in reply_css()


def test_an_answer_with_code_is_highlighted_and_carries_the_stylesheet() -> None:
    snap = accumulate([TextDelta("Here:\n\n" + PYTHON), Finished("stop")])
    out = render_reply_html(snap, Footer("m", None, 1.0, None, None))
    assert '<code class="language-python evo-hl">' in out and ".evo-hl :is(" in out


def test_the_live_view_highlights_finished_blocks_and_keeps_the_open_tail_plain() -> None:
    stream = MarkdownStream()
    stream.update(PYTHON[:40])
    assert "evo-hl" not in stream.tail_html  # still being written
    delta = stream.update(PYTHON + "\nand then\n")
    assert delta.committed and '<code class="language-python evo-hl">' in delta.committed[0]
    assert "evo-hl" not in stream.tail_html


def test_the_panel_and_its_saved_snapshot_show_code_highlighted() -> None:
    from types import SimpleNamespace

    from evo_magic.panels.render import entry_html, snapshot_html

    snap = accumulate([TextDelta(PYTHON), Finished("stop")])
    reply = SimpleNamespace(snapshot=snap, footer=Footer("m", None, 1.0, None, None), rounds=[], tool_calls=[], thinking_open=False)
    turn = SimpleNamespace(prompt="code?", reply=reply, messages=[])
    for markup in (entry_html(turn), snapshot_html([turn], "default", 1, "This notebook: $0.00")):
        assert '<code class="language-python evo-hl"><span class="hl-kn">import</span>' in markup
        assert ".evo-hl :is(" in markup
