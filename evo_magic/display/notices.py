"""User-visible notices: small objects with both ``_repr_html_`` and a text ``__repr__``.

Everything shown to the user outside an answer goes through here (no ``print`` in library
code). All text is escaped: model output and user input are untrusted.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING, Literal, TypeAlias

from ..errors import CONTROL, escape_controls

if TYPE_CHECKING:
    from ..core.snapshot import ToolCall

#: Classes that keep math typesetting off an output: MathJax would typeset the text between two
#: "$" (prices, shell variables) as a formula. JupyterLab and Notebook 7 skip ``mathjax_ignore``,
#: the classic Notebook ``tex2jax_ignore``; every top-level element of every output carries both.
NO_MATH = "tex2jax_ignore mathjax_ignore"

Kind: TypeAlias = Literal["info", "warning", "error", "offline"]
_COLORS: dict[Kind, str] = {"info": "#2563eb", "warning": "#b45309", "error": "#b91c1c", "offline": "#7c3aed"}


def plural(n: int, word: str) -> str:
    """``1 turn``, ``2 turns``, ``1,024 requests``."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


class Notice:
    """A message (info / warning / error / offline).

    ``code`` names parts of ``text`` (commands) that the HTML form shows as code; the text form
    shows them as they are, so neither has literal backticks. ``pre`` keeps the line breaks and
    the alignment of ``text`` (a reference like ``%deepseek help``), in a scrollable block.
    """

    def __init__(
        self,
        text: str,
        kind: Kind = "info",
        title: str | None = None,
        *,
        code: Sequence[str] = (),
        pre: bool = False,
    ):
        self.text = text
        self.kind = kind
        self.title = title
        self.code = tuple(c for c in code if c)
        self.pre = pre

    def __repr__(self) -> str:
        """The text form: control characters shown, not obeyed (a notice names files and
        sessions, anyone's names)."""
        return printable(f"{self.title}: {self.text}" if self.title else self.text)

    def _repr_html_(self) -> str:
        color = _COLORS.get(self.kind, _COLORS["info"])
        title = f"<strong>{escape(self.title)}</strong> " if self.title else ""
        body = escape(self.text)
        if self.code:
            pattern = "|".join(re.escape(escape(c)) for c in sorted(self.code, key=len, reverse=True))
            body = re.sub(pattern, lambda m: f"<code>{m.group()}</code>", body)
        if self.pre:
            body = f"<pre class='evo-notice-pre' style='{_PRE}'>{body}</pre>"
        return (
            f'<div class="evo-notice evo-notice-{escape(self.kind)} {NO_MATH}" style="border-left:3px solid '
            f'{color};padding:2px 8px;margin:2px 0">{title}{body}</div>'
        )


_PRE = (
    "margin:4px 0 2px;padding:0;background:none;white-space:pre;overflow-x:auto;line-height:1.4;"
    "font-family:var(--jp-code-font-family,monospace);font-size:var(--jp-code-font-size,13px)"
)


class Table:
    """A titled table of strings (settings, history, usage)."""

    def __init__(
        self,
        title: str,
        headers: Sequence[str],
        rows: Sequence[Sequence[object]],
        note: str | None = None,
    ):
        self.title = title
        self.headers = list(headers)
        self.rows = [[("" if c is None else str(c)) for c in row] for row in rows]
        self.note = note

    def __repr__(self) -> str:
        rows = [[clip(c, 60) for c in row] for row in self.rows]
        widths = [len(h) for h in self.headers]
        for row in rows:
            for i, cell in enumerate(row):
                widths[i] = max(widths[i], len(cell))

        def line(cells: Sequence[str]) -> str:
            return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=False)).rstrip()

        out = [printable(self.title), line(self.headers), line(["-" * w for w in widths])]
        out += [line(r) for r in rows] or ["(empty)"]
        if self.note:
            out.append(printable(self.note))
        return "\n".join(out)

    def _repr_html_(self) -> str:
        head = "".join(f"<th style='text-align:left'>{escape(h)}</th>" for h in self.headers)
        body = (
            "".join(
                "<tr>"
                + "".join(
                    f"<td style='text-align:left;vertical-align:top'>{escape(c)}</td>" for c in row
                )
                + "</tr>"
                for row in self.rows
            )
            or f"<tr><td colspan='{len(self.headers)}'><em>(empty)</em></td></tr>"
        )
        note = f"<div style='opacity:.7;white-space:pre-line'>{escape(self.note)}</div>" if self.note else ""
        return (
            f"<div class='evo-table {NO_MATH}'><strong>{escape(self.title)}</strong>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{note}</div>"
        )


def columns(text: str) -> int:
    """How many terminal columns ``text`` takes: wide (CJK, emoji) characters two, combining
    marks and other zero-width characters none."""
    return sum(_column(ch) for ch in text)


def _column(ch: str) -> int:
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def clip(text: str, width: int) -> str:
    """One line of at most ``width`` terminal columns (see :func:`columns`), whitespace
    collapsed, control characters escaped (:func:`printable`), cut with "…" when longer."""
    text = printable(" ".join(text.split()))
    if columns(text) <= width:
        return text
    used = 0
    for i, ch in enumerate(text):
        used += _column(ch)
        if used > width - 1:
            return text[:i] + "…"
    return text  # pragma: no cover - the loop returns: the text is wider than width


def printable(text: str, *, drop: bool = False) -> str:
    """``text`` safe to write to a terminal: each :data:`CONTROL` character written as
    ``\\x1b``, so that it is shown instead of obeyed (an ESC in a model's answer must not
    recolour or rewrite the output), or, with ``drop``, removed (an answer's own text form,
    where the escapes would only be noise)."""
    if drop:
        return CONTROL.sub("", text)
    return escape_controls(text)


class ToolResult:
    """One tool call the kernel ran: name, arguments and result (or error), collapsible."""

    def __init__(self, call: ToolCall, result: str, ok: bool):
        self.call, self.result, self.ok = call, result, ok

    def __repr__(self) -> str:
        mark = "ok" if self.ok else "failed"
        return f"tool {self.call.name}({clip(self.call.arguments, 200)}) {mark}: {clip(self.result, 300)}"

    def _repr_html_(self) -> str:
        mark = "✓" if self.ok else "✗"
        color = "#15803d" if self.ok else "#b91c1c"
        return (
            f"<details class='evo-tool {NO_MATH}'><summary><code>{escape(self.call.name)}</code> "
            f"<span style='color:{color}'>{mark}</span> <span style='opacity:.7'>"
            f"{escape(clip(self.call.arguments, 120))}</span></summary>"
            f"<div>arguments</div><pre>{escape(self.call.arguments)}</pre>"
            f"<div>{'result' if self.ok else 'error'}</div><pre>{escape(self.result)}</pre></details>"
        )
