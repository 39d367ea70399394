"""User-visible notices: small objects with both ``_repr_html_`` and a text ``__repr__``.

Everything shown to the user outside an answer goes through here (no ``print`` in library
code). All text is escaped: model output and user input are untrusted.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

_COLORS = {"info": "#2563eb", "warning": "#b45309", "error": "#b91c1c", "offline": "#7c3aed"}


class Notice:
    """A one-paragraph message (info / warning / error / offline)."""

    def __init__(self, text: str, kind: str = "info", title: str | None = None):
        self.text = text
        self.kind = kind
        self.title = title

    def __repr__(self) -> str:
        return f"{self.title}: {self.text}" if self.title else self.text

    def _repr_html_(self) -> str:
        color = _COLORS.get(self.kind, _COLORS["info"])
        title = f"<strong>{escape(self.title)}</strong> " if self.title else ""
        return (
            f'<div class="evo-notice evo-notice-{escape(self.kind)}" style="border-left:3px solid '
            f'{color};padding:2px 8px;margin:2px 0">{title}{escape(self.text)}</div>'
        )


class Table:
    """A titled table of strings (settings, history, usage)."""

    def __init__(self, title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]],
                 note: str | None = None):
        self.title = title
        self.headers = list(headers)
        self.rows = [[("" if c is None else str(c)) for c in row] for row in rows]
        self.note = note

    def __repr__(self) -> str:
        widths = [len(h) for h in self.headers]
        for row in self.rows:
            for i, cell in enumerate(row):
                widths[i] = max(widths[i], min(len(cell), 60))

        def line(cells: Sequence[str]) -> str:
            return "  ".join(_clip(c, 60).ljust(w) for c, w in zip(cells, widths)).rstrip()

        out = [self.title, line(self.headers), line(["-" * w for w in widths])]
        out += [line(r) for r in self.rows] or ["(empty)"]
        if self.note:
            out.append(self.note)
        return "\n".join(out)

    def _repr_html_(self) -> str:
        head = "".join(f"<th style='text-align:left'>{escape(h)}</th>" for h in self.headers)
        body = "".join(
            "<tr>" + "".join(f"<td style='text-align:left;vertical-align:top'>{escape(c)}</td>"
                             for c in row) + "</tr>"
            for row in self.rows
        ) or f"<tr><td colspan='{len(self.headers)}'><em>(empty)</em></td></tr>"
        note = f"<div style='opacity:.7'>{escape(self.note)}</div>" if self.note else ""
        return (
            f"<div class='evo-table'><strong>{escape(self.title)}</strong>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{note}</div>"
        )


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
