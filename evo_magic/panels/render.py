"""What the chat panel shows, as data and static HTML (pure: no widgets, no IO).

:func:`entries` orders a session's turns, the partial answers kept beside them and the
question streaming now; :func:`entry_html` renders one entry exactly as a cell renders an
answer (markdown, folded thinking, tool calls, footer); :func:`snapshot_html` is the static
conversation a saved notebook keeps in the panel's place.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from html import escape
from typing import TYPE_CHECKING, Any

from ..display.assets import asset_text
from ..display.notices import NO_MATH, ToolResult
from ..display.render import Footer, render_reply_html

if TYPE_CHECKING:
    from ..sessions.reply import Reply, Turn

STOPPED = "Stopped — the partial answer is kept (it is not sent as context)."
# In a live JupyterLab the widget's output is followed by the snapshot's: hide the snapshot
# while the panel renders, and hide the widget's box when no panel rendered in it (reopened
# without a kernel: "Error displaying widget"; nbconvert: the widget's text fallback).
SNAPSHOT_CSS = (
    ".jp-OutputArea-child:has(.evo-panel) + .jp-OutputArea-child:has(.evo-panel-snapshot) { display: none; }\n"
    ".jp-OutputArea-child:not(:has(.evo-panel, .evo-panel-snapshot))"
    ":has(+ .jp-OutputArea-child .evo-panel-snapshot) { display: none; }\n"
)


@dataclass
class Partial:
    """A question whose answer did not complete (stopped or failed): shown, not in history."""

    after: Turn | None  # the turn it followed
    prompt: str
    reply: Reply | None
    status: str  # "stopped" | "error"
    message: str = ""


@dataclass
class Asking:
    """The question streaming on a session right now (shared by every panel on it)."""

    prompt: str
    parts: list[Any] = field(default_factory=list)  # live answer widgets and tool results
    header: Any = None  # the question's widget, made once



Entry = Any  # Turn | Partial | Asking


def entries(turns: list[Turn], partials: list[Partial], asking: Asking | None) -> list[Entry]:
    """The transcript in order: each turn followed by the partial answers asked after it,
    then the question streaming now."""
    known = {id(t) for t in turns}
    out: list[Entry] = [p for p in partials if p.after is None]
    for turn in turns:
        out.append(turn)
        out += [p for p in partials if p.after is turn]
    out += [p for p in partials if p.after is not None and id(p.after) not in known]
    if asking is not None:
        out.append(asking)
    return out


def rows(items: list[Entry]) -> list[dict[str, Any]]:
    """Entries as plain dicts: prompt, answer, status ("ok", "stopped", "error",
    "streaming"), cell (an In[n] number, "panel" or None)."""
    out = []
    for entry in items:
        if isinstance(entry, Asking):
            out.append({"prompt": entry.prompt, "answer": "", "status": "streaming", "cell": "panel"})
        elif isinstance(entry, Partial):
            text = entry.reply.text if entry.reply is not None else ""
            out.append({"prompt": entry.prompt, "answer": text, "status": entry.status, "cell": "panel"})
        else:
            out.append({"prompt": entry.prompt, "answer": entry.reply.text, "status": "ok", "cell": entry.cell})
    return out


def entry_html(entry: Turn | Partial) -> str:
    """A turn or a partial answer: the question, then the answer as a cell shows it."""
    parts = [f'<div class="evo-panel-user">{escape(entry.prompt)}</div>']
    if isinstance(entry, Partial):
        if entry.reply is None:
            parts.append(f'<div class="evo-banner error" role="status">{escape(entry.message)}</div>')
        else:
            marked = replace(entry.reply.footer, status=entry.status, message=entry.message)
            parts.append(render_reply_html(entry.reply.snapshot, marked, open_thinking=entry.reply.thinking_open))
        return "".join(parts)
    reply = entry.reply
    rounds = reply.rounds or [reply]
    results = {m.tool_call_id: m for m in entry.messages if m.role == "tool"}
    for r in rounds:
        footer: Footer = r.footer
        parts.append(render_reply_html(r.snapshot, footer, open_thinking=r.thinking_open))
        if r is not rounds[-1]:
            for call in r.tool_calls:
                result = results.get(call.id)
                if result is not None:
                    text = result.content or ""
                    parts.append(ToolResult(call, text, not text.startswith("Error"))._repr_html_())
    return "".join(parts)


def snapshot_html(items: list[Entry], session: str, turns: int, cost: str) -> str:
    """The conversation as static HTML with the panel's stylesheet (see :data:`SNAPSHOT_CSS`)."""
    blocks = [f'<div class="evo-snapshot-turn">{entry_html(e)}</div>' for e in items if not isinstance(e, Asking)]
    body = "".join(blocks) or f"<p><em>No turns yet in session {escape(session)}.</em></p>"
    title = (
        f"evo_magic chat · session <code>{escape(session)}</code> · {turns} turn{'s' * (turns != 1)} · "
        "snapshot (run <code>%deepseek panel</code> to continue)"
    )
    return (
        f"<style>{SNAPSHOT_CSS}{panel_css()}</style>"
        f'<div class="evo-panel-snapshot {NO_MATH}"><div class="evo-panel-title">{title}</div>{body}'
        f'<div class="evo-panel-footer">{escape(cost)}</div></div>'
    )


def snapshot_text(items: list[Entry], session: str) -> str:
    """The conversation as plain text (front ends without HTML)."""
    lines = [f"evo_magic chat, session {session!r} (snapshot)"]
    for row in rows(items):
        if row["status"] == "streaming":
            continue
        mark = {"stopped": " [stopped]", "error": " [failed]"}.get(row["status"], "")
        lines += [f"you: {row['prompt']}", f"deepseek{mark}: {row['answer']}"]
    return "\n".join(lines)


def panel_css() -> str:
    return asset_text("panels/panel.css")
