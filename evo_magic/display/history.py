"""``%deepseek history``: the conversation so far, compact (pure).

Each turn is a few lines: its number, cell, model and tokens, then the question and the answer
as one-line previews (markdown reduced to its text). In HTML each turn is a ``<details>``: the
previews fold out to the whole question and the answer rendered as in a cell, code highlighted.
The text form fits 100 terminal columns. Questions and answers are untrusted: escaped, or
rendered by :mod:`evo_magic.display.markdown`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import escape, unescape
from typing import TYPE_CHECKING, Protocol

from .markdown import render_markdown
from .notices import NO_MATH, clip, columns, plural
from .render import reply_css

if TYPE_CHECKING:
    from ..core.usage import Usage

__all__ = ["WIDTH", "HistoryView", "ShownReply", "ShownTurn"]

WIDTH = 100  # terminal columns of the text form
PREVIEW = 400  # characters of a preview in HTML (the line is cut by CSS)
_BLOCK_TAG = re.compile(r"</?(?:p|li|ul|ol|h\d|pre|blockquote|table|thead|tbody|tr|td|th|div|br|hr)\b[^>]*>")
_TAG = re.compile(r"<[^>]+>")


def plain(markdown: str) -> str:
    """The text of ``markdown`` without its syntax, on one line: what a preview shows."""
    html = render_markdown(markdown, highlight=False)
    return " ".join(unescape(_TAG.sub("", _BLOCK_TAG.sub(" ", html))).split())


def _preview(text: str, width: int) -> str:
    """``text`` on one line within ``width`` columns; when cut, its size is said."""
    line = clip(text, width)
    if line == clip(text, 10**9):
        return line
    size = f" ({len(text):,} characters)"
    return clip(text, width - columns(size)) + size


class ShownReply(Protocol):
    """What the history shows of a turn's answer (a :class:`~evo_magic.sessions.reply.Reply`)."""

    @property
    def model(self) -> str: ...
    @property
    def usage(self) -> Usage | None: ...
    @property
    def status(self) -> str: ...


class ShownTurn(Protocol):
    """What the history shows of a turn (a :class:`~evo_magic.sessions.reply.Turn`): ``cell`` is
    its execution count (``In[n]``), a label, or None."""

    @property
    def prompt(self) -> str: ...
    @property
    def answer(self) -> str: ...
    @property
    def cell(self) -> object: ...
    @property
    def reply(self) -> ShownReply: ...


class HistoryView:
    """The turns of one session (:class:`~evo_magic.sessions.reply.Turn`), as HTML and as text."""

    def __init__(self, session: str, turns: Sequence[ShownTurn]):
        self.session = session
        self.turns = list(turns)

    def title(self) -> str:
        return f"Session {self.session!r}: {plural(len(self.turns), 'turn')}"

    @staticmethod
    def meta(number: int, turn: ShownTurn) -> str:
        """``#2 · In[5] · deepseek-v4-flash · 2,400 in / 900 out``."""
        parts = [f"#{number}"]
        if turn.cell is not None and turn.cell != "":
            parts.append(f"In[{turn.cell}]" if isinstance(turn.cell, int) else str(turn.cell))
        parts.append(turn.reply.model)
        u = turn.reply.usage
        parts.append("usage unknown" if u is None else f"{u.prompt_tokens:,} in / {u.completion_tokens:,} out")
        if turn.reply.status not in ("ok", "streaming"):
            parts.append(str(turn.reply.status))
        return " · ".join(parts)

    def __repr__(self) -> str:
        lines = [clip(self.title(), WIDTH)]
        for number, turn in enumerate(self.turns, 1):
            lines.append(clip(self.meta(number, turn), WIDTH))
            for who, text in (("you", turn.prompt), ("deepseek", plain(turn.answer))):
                head = f"   {who}: "
                lines.append(head + _preview(text, WIDTH - len(head)))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        turns = []
        for number, turn in enumerate(self.turns, 1):
            answer = render_markdown(turn.answer)
            turns.append(
                '<details class="evo-turn"><summary>'
                f'<span class="evo-turn-meta">{escape(self.meta(number, turn))}</span>'
                f'<div class="evo-turn-line"><b>you</b> {escape(clip(turn.prompt, PREVIEW))}</div>'
                f'<div class="evo-turn-line"><b>deepseek</b> {escape(clip(plain(turn.answer), PREVIEW))}</div>'
                '</summary><div class="evo-turn-full">'
                f'<div class="evo-turn-label">you</div><pre class="evo-turn-prompt">{escape(turn.prompt)}</pre>'
                f'<div class="evo-turn-label">deepseek</div><div class="evo-answer evo-md">{answer}</div>'
                "</div></details>"
            )
        return (
            f'<div class="evo-reply evo-history {NO_MATH}"><style>{reply_css()}\n{_CSS}</style>'
            f'<div class="evo-history-title"><strong>{escape(self.title())}</strong>'
            f"{' · click a turn to see all of it' if self.turns else ''}</div>{''.join(turns)}</div>"
        )


_CSS = """
.evo-reply.evo-history .evo-turn{border-left:3px solid var(--evo-border);padding:1px 0 1px 8px;margin:4px 0}
.evo-reply.evo-history .evo-turn>summary{cursor:pointer}
.evo-reply.evo-history .evo-turn-meta{color:var(--evo-muted);font-size:.85em}
.evo-reply.evo-history .evo-turn-line{white-space:nowrap;overflow:hidden;text-overflow:ellipsis;max-width:100%}
.evo-reply.evo-history .evo-turn-line b{color:var(--evo-muted);font-weight:600;margin-right:4px}
.evo-reply.evo-history .evo-turn-label{color:var(--evo-muted);font-size:.85em;margin-top:6px}
.evo-reply.evo-history .evo-turn-prompt{white-space:pre-wrap;background:var(--evo-code-bg);padding:6px 10px;
border-radius:4px;margin:2px 0;max-height:24em;overflow:auto}
""".strip()
