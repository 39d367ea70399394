"""A FIM completion shown: the completed code with the filled part marked (pure but for the
live view, which wraps one of :mod:`.live`'s).

HTML (:func:`fill_html`): the whole code highlighted as one text (a docstring or a string the
hole cuts through colours right), the model's part in ``<mark class="evo-fill">`` (a tinted
background that reads in light and dark themes), a label saying how much was filled, the
banner and the footer. Text (:func:`fill_text`): the label, then the completed code with a
gutter, ``+`` on each line the model wrote (in part or whole), two spaces on the others, so
the code reads as a diff against the cell. While the answer streams, :class:`FillView` shows
the fill growing as a code block (widget) or as characters (terminal); its final render is the
marked completed code.
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import replace
from html import escape
from typing import TYPE_CHECKING, Any

from ..core.events import TextDelta
from ..core.snapshot import TurnSnapshot
from .highlight import runs, span
from .notices import NO_MATH, plural, printable
from .render import Footer, banner_html, footer_html, footer_text, reply_css, status_text

if TYPE_CHECKING:
    from .live import ViewMode

__all__ = ["FIM_MAX_TOKENS", "FillView", "fill_bundle", "fill_footer", "fill_html", "fill_label", "fill_text",
           "marked_code_html", "marked_code_text", "open_fill_view"]  # fmt: skip

_EMPTY = '<mark class="evo-fill evo-fill-empty" title="nothing was filled in here"></mark>'
FIM_MAX_TOKENS = 4_096  # DeepSeek's FIM limit (protocol.fim.MAX_TOKENS; display cannot import protocol)
_CSS = """
.evo-reply mark.evo-fill{background:var(--evo-fill-bg,rgba(46,160,67,.28));color:inherit;border-radius:2px;
padding:0;box-shadow:0 0 0 1px var(--evo-fill-edge,rgba(46,160,67,.55))}
.evo-reply mark.evo-fill.evo-fill-empty{display:inline-block;width:0;box-shadow:0 0 0 1px #d97706;height:1.1em;
vertical-align:text-bottom}
.evo-reply .evo-fill-label{color:var(--evo-muted);font-size:.9em;margin-bottom:2px}
.evo-reply pre.evo-fim{background:var(--evo-code-bg);padding:8px 10px;border-radius:4px;overflow-x:auto;margin:2px 0}
.evo-reply pre.evo-fim code{background:none;padding:0}
""".strip()


def fill_label(fill: str) -> str:
    """What the model filled in, in a few words: ``Filled in the middle: 3 lines, 87 characters``."""
    if not fill:
        return "Filled in the middle: nothing (the model wrote no text)"
    lines = fill.count("\n") + (0 if fill.endswith("\n") else 1)
    return f"Filled in the middle: {plural(lines, 'line')}, {plural(len(fill), 'character')}"


def fill_footer(footer: Footer) -> Footer:
    """The footer of a FIM answer: a fill cut at max_tokens says so without ``%deepseek
    continue`` (which continues a conversation, not a fill)."""
    if footer.status != "length" or footer.message:
        return footer
    limit = footer.max_tokens or (footer.usage.completion_tokens if footer.usage else None)
    cut = f"cut at {limit:,} tokens" if limit else "cut at max_tokens"
    return replace(footer, message=f"{cut} — raise --max-tokens (FIM writes at most {FIM_MAX_TOKENS:,})")


def _pieces(code: str, language: str, start: int, end: int) -> list[tuple[str | None, str, bool]]:
    """``code`` as (styled class, text, in the fill) pieces: the highlight's runs, each cut at
    the fill's edges."""
    found = runs(code, language) or []
    if "".join(text for _, text in found) != code:  # the lexer changed the text (CRLF): plain
        found = [(None, code)]
    out: list[tuple[str | None, str, bool]] = []
    at = 0
    for name, text in found:
        cuts = sorted({0, len(text), *(p - at for p in (start, end) if at < p < at + len(text))})
        for a, b in itertools.pairwise(cuts):
            out.append((name, text[a:b], start <= at + a < end))
        at += len(text)
    return out


def marked_code_html(prompt: str, fill: str, suffix: str, language: str = "python") -> str:
    """The completed code as a highlighted ``<pre>``, the fill in ``<mark class="evo-fill">``
    (an empty fill: an empty mark where it would have gone)."""
    code = prompt + fill + suffix
    start, end = len(prompt), len(prompt) + len(fill)
    out: list[str] = []
    inside, at = False, 0
    for name, text, filled in _pieces(code, language, start, end):
        if not fill and at == start:
            out.append(_EMPTY)
        if filled != inside:
            out.append('<mark class="evo-fill">' if filled else "</mark>")
            inside = filled
        out.append(span(name, text))
        at += len(text)
    if inside:
        out.append("</mark>")
    if not fill and start == len(code):
        out.append(_EMPTY)
    return f'<pre class="evo-fim"><code class="language-{escape(language)} evo-hl">{"".join(out)}</code></pre>'


def marked_code_text(prompt: str, fill: str, suffix: str) -> str:
    """The completed code with a gutter: ``+ `` on each line the fill wrote in, ``  `` else."""
    code = prompt + fill + suffix
    start, end = len(prompt), len(prompt) + len(fill)
    lines = code.split("\n")
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    marked = set()
    if fill:
        first = bisect.bisect_right(starts, start) - 1
        last = bisect.bisect_right(starts, end - 1) - 1
        marked = set(range(first, last + 1))
    if lines[-1] == "":  # the code ends with a newline (or is empty): no line after it
        lines.pop()
    return "\n".join(("+ " if i in marked else "  ") + line for i, line in enumerate(lines))


def fill_html(prompt: str, fill: str, suffix: str, footer: Footer, language: str = "python") -> str:
    """The final HTML of a FIM answer: label, marked code, banner, footer."""
    footer = fill_footer(footer)
    label = escape(fill_label(fill))
    if fill:
        head, _, tail = label.partition(": ")
        label = f'{head}: <mark class="evo-fill">{tail}</mark>'
    body = (
        f'<div class="evo-fill-label">{label}</div>{marked_code_html(prompt, fill, suffix, language)}'
        f"{banner_html(footer, answered=bool(fill))}{footer_html(footer)}"
    )
    return f'<div class="evo-reply {NO_MATH}"><style>{reply_css()}\n{_CSS}</style>{body}</div>'


def fill_text(prompt: str, fill: str, suffix: str, footer: Footer) -> str:
    """The ``text/plain`` form: label (lines marked +), the gutter code, status, footer."""
    footer = fill_footer(footer)
    blocks = [f"{fill_label(fill)} (lines marked +):", marked_code_text(prompt, fill, suffix)]
    status = status_text(footer, answered=bool(fill))
    if status:
        blocks.append(f"[{status}]")
    blocks.append(footer_text(footer))
    return printable("\n\n".join(blocks), drop=True)


def fill_bundle(prompt: str, fill: str, suffix: str, footer: Footer, language: str = "python") -> dict[str, str]:
    """The mime bundle of a FIM answer (what the cell keeps)."""
    return {
        "text/html": fill_html(prompt, fill, suffix, footer, language),
        "text/plain": fill_text(prompt, fill, suffix, footer),
    }


class FillView:
    """The live view of a FIM answer around one of :mod:`.live`'s (``inner``): the fill grows
    as a code block in a widget, as characters in a terminal; the end is the marked completed
    code (the widget's final bundle is :func:`fill_bundle` of :attr:`fill`)."""

    def __init__(self, prompt: str, suffix: str, language: str) -> None:
        self.prompt, self.suffix, self.language = prompt, suffix, language
        self.inner: Any = None
        self.widget = False
        self.fill = ""  # the filled text so far

    @property
    def shows_answer(self) -> bool:
        return bool(getattr(self.inner, "shows_answer", False))

    def _shown(self, *, done: bool = False) -> TurnSnapshot:
        """What the inner view shows: the fill as a code block (widget), or the fill and at the
        end the completed code (terminal)."""
        fill = self.fill
        if self.widget:
            text = f"```{self.language}\n{fill}" + ("\n```" if done else "")
        elif done:
            text = f"{fill}\n\n{fill_label(fill)} (lines marked +):\n{marked_code_text(self.prompt, fill, self.suffix)}"
        else:
            text = fill
        shown = TurnSnapshot()
        shown.apply(TextDelta(text))
        return shown

    def update(self, snapshot: TurnSnapshot) -> None:
        if snapshot.text and self.inner is not None:
            self.fill = snapshot.text
            self.inner.update(self._shown())

    def finish(self, snapshot: TurnSnapshot, footer: Footer) -> None:
        self.fill = snapshot.text
        if self.inner is not None:
            self.inner.finish(self._shown(done=True), fill_footer(footer))


def open_fill_view(
    mode: ViewMode, prompt: str, suffix: str, *, model: str | None, language: str = "python"
) -> FillView:
    """A live view of a FIM answer (``mode`` as :func:`~evo_magic.display.live.open_view`)."""
    from .live import WidgetView, open_view

    view = FillView(prompt, suffix, language)

    def bundle(snapshot: TurnSnapshot, footer: Footer, open_thinking: bool) -> dict[str, str]:
        return fill_bundle(prompt, view.fill, suffix, footer, language)

    view.inner = open_view(mode, model=model, bundle=bundle)
    view.widget = isinstance(view.inner, WidgetView)
    return view
