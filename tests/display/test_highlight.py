"""Code blocks of answers are highlighted (Pygments classes, themed stylesheet), safely."""

from __future__ import annotations

import html
import re

import pytest

from evo_magic.display.highlight import PREFIX, STYLES, highlight, highlight_css
from evo_magic.display.markdown import render_markdown
from evo_magic.display.render import reply_css

from .helpers import PYTHON, audit, spans


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






