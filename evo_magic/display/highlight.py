"""Code blocks of answers, highlighted with Pygments (pure; Pygments is imported on first use).

:func:`highlight` turns the code of a fenced block into HTML ``<span>``s with Pygments' short
class names (``hl-k`` a keyword, ``hl-s2`` a string, …), never inline styles; tokens no rule
colours (plain names, punctuation) stay bare text, so the HTML stays small. :func:`highlight_css` colours
them under ``.evo-reply .evo-hl`` with JupyterLab's own editor colours
(``--jp-mirror-editor-*``, defined by its light and dark themes and by nbconvert's exports),
then VS Code's theme colours, then fixed mid-tones that read on light and dark backgrounds. An
unknown language, or a block over :data:`MAX_CHARS`, stays plain text. Pygments escapes what it
writes, so model output stays inert.
"""

from __future__ import annotations

from functools import cache, lru_cache
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pygments.lexer import Lexer
    from pygments.token import _TokenType

__all__ = ["MAX_CHARS", "PREFIX", "STYLED", "STYLES", "highlight", "highlight_css", "runs", "span"]

PREFIX = "hl-"
MAX_CHARS = 100_000  # larger blocks stay plain: highlighting them would stall the kernel


def _color(jp: str, vscode: str, fallback: str) -> str:
    return f"color:var(--jp-mirror-editor-{jp}-color,var(--vscode-{vscode},{fallback}))"


#: Pygments' short class names (``pygments.token.STANDARD_TYPES``) by what they look like.
STYLES: dict[tuple[str, ...], str] = {
    ("k", "kc", "kd", "kn", "kp", "kr", "kt", "ow"): _color("keyword", "symbolIcon-keywordForeground", "#8e44ad")
    + ";font-weight:bold",
    ("nb", "bp", "ne"): _color("builtin", "symbolIcon-classForeground", "#1e8449"),
    ("nf", "fm", "nc"): _color("def", "symbolIcon-functionForeground", "#2e86c1"),
    ("nd", "cp", "cpf", "gp"): _color("meta", "symbolIcon-eventForeground", "#a04ac9"),
    ("s", "sa", "sb", "sc", "dl", "sd", "s2", "sh", "sx", "s1", "ss"): _color(
        "string", "debugTokenExpression-string", "#c0562b"
    ),
    ("se", "si", "sr"): _color("string-2", "debugTokenExpression-name", "#a347ba"),
    ("m", "mb", "mf", "mh", "mi", "il", "mo"): _color("number", "debugTokenExpression-number", "#2a8a57"),
    ("c", "ch", "cm", "c1", "cs"): _color("comment", "descriptionForeground", "#7b8794") + ";font-style:italic",
    ("o",): _color("operator", "symbolIcon-operatorForeground", "#9b59b6"),
    ("nv", "vc", "vg", "vi", "vm"): _color("variable-2", "symbolIcon-variableForeground", "#3a7bbf"),
    ("no",): _color("atom", "debugTokenExpression-boolean", "#5b6ee1"),
    ("py",): _color("property", "symbolIcon-propertyForeground", "#3a7bbf"),
    ("nt",): _color("tag", "symbolIcon-keywordForeground", "#2a8a57"),
    ("na",): _color("attribute", "symbolIcon-propertyForeground", "#3a6fd1"),
    ("gh", "gu"): _color("header", "textLink-foreground", "#3a6fd1") + ";font-weight:bold",
    ("gd", "gr", "gt"): _color("error", "errorForeground", "#d9363e"),
    ("gi",): _color("quote", "testing-iconPassed", "#2a8a57"),
    ("ge",): "font-style:italic",
    ("gs",): "font-weight:bold",
    ("ges",): "font-style:italic;font-weight:bold",
}


def highlight_css() -> str:
    """The stylesheet of highlighted code, scoped under ``.evo-reply .evo-hl``."""
    rules = []
    for names, declarations in STYLES.items():
        classes = ",".join(f".{PREFIX}{name}" for name in names)
        rules.append(f".evo-reply .evo-hl :is({classes}){{{declarations}}}")
    return "\n".join(rules)


#: Every class name :data:`STYLES` colours; other tokens (plain names, punctuation) get no span.
STYLED = frozenset(name for names in STYLES for name in names)


@cache
def _class_of(ttype: _TokenType | None) -> str | None:
    """The styled class of a Pygments token type: its own short name, else its nearest
    ancestor's (``Keyword.Foo`` reads as ``k``); None for tokens shown plain."""
    from pygments.token import STANDARD_TYPES

    while ttype is not None:
        name = STANDARD_TYPES.get(ttype)
        if name in STYLED:
            return name
        ttype = ttype.parent
    return None


@lru_cache(maxsize=64)  # names come from model output: bounded
def _lexer(language: str) -> Lexer | None:
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        return get_lexer_by_name(language, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None


def highlight(code: str, language: str) -> str | None:
    """``code`` as escaped HTML, its tokens in ``<span class="hl-…">`` (neighbours of one class
    share a span), or None when ``language`` is not one Pygments knows (by any of its names,
    case-insensitive) or the block is too large."""
    found = runs(code, language)
    return None if found is None else "".join(span(name, text) for name, text in found)


def runs(code: str, language: str) -> list[tuple[str | None, str]] | None:
    """``code`` cut into runs of one styled class each (None: shown plain), in order, joining
    back to ``code``; None when ``language`` is unknown or the code too large (see :func:`highlight`)."""
    if not language or len(code) > MAX_CHARS:
        return None
    lexer = _lexer(language.lower())
    if lexer is None:
        return None
    out: list[tuple[str | None, str]] = []
    current: str | None = None
    run: list[str] = []
    for ttype, value in lexer.get_tokens(code):
        name = _class_of(ttype)
        if name != current and run:
            out.append((current, "".join(run)))
            run = []
        current = name
        run.append(value)
    if run:
        out.append((current, "".join(run)))
    return out


def span(name: str | None, text: str) -> str:
    """``text`` escaped, in a ``<span>`` of styled class ``name`` (bare when None)."""
    text = escape(text, quote=False)
    return f'<span class="{PREFIX}{name}">{text}</span>' if name else text
