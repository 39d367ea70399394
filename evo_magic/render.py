"""Rendering (pure): markdown to safe HTML, the final reply HTML and text, the footer, and the
incremental splitter that lets the live view send only what changed.

Model output is untrusted: markdown-it runs with raw HTML disabled, and its link validation
drops ``javascript:``, ``vbscript:``, ``file:`` and non-image ``data:`` URLs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from html import escape
from typing import Any

from .usage import Usage

STATUS_CLASS = {"interrupted": "warn", "length": "warn", "tool_rounds": "warn", "error": "error"}


@lru_cache(maxsize=1)
def _md() -> Any:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])

    def link_open(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        tokens[idx].attrSet("rel", "noopener noreferrer nofollow")
        tokens[idx].attrSet("target", "_blank")
        return str(self.renderToken(tokens, idx, options, env))

    md.add_render_rule("link_open", link_open)
    return md


def render_markdown(text: str) -> str:
    return str(_md().render(text))


# --- footer -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Footer:
    model: str | None
    usage: Usage | None
    elapsed: float
    ttft: float | None = None
    thinking_seconds: float | None = None
    cost: Decimal | None = None
    status: str = "ok"
    message: str | None = None
    cache_note: bool = True


def format_cost(cost: Decimal | None) -> str | None:
    if cost is None:
        return None
    if cost >= Decimal("0.01"):
        return f"${cost:.2f}" if cost >= 1 else f"${cost:.4f}".rstrip("0").rstrip(".")
    return f"${cost:.6f}".rstrip("0").rstrip(".") if cost else "$0"


def footer_text(f: Footer) -> str:
    parts = [f.model or "unknown model"]
    u = f.usage
    if u is not None:
        ratio = u.cache_hit_ratio
        cached = f" ({ratio:.0%} cached)" if ratio is not None else ""
        parts.append(f"{u.prompt_tokens:,} in{cached}")
        reasoning = f" ({u.reasoning_tokens:,} reasoning)" if u.reasoning_tokens else ""
        parts.append(f"{u.completion_tokens:,} out{reasoning}")
    else:
        parts.append("usage not reported")
    cost = format_cost(f.cost)
    if cost is not None:
        parts.append(cost)
    elif u is not None and f.cache_note:
        parts.append("cost unknown")
    parts.append(f"{f.elapsed:.1f} s")
    return " · ".join(parts)


def footer_html(f: Footer) -> str:
    return f'<div class="evo-footer">{escape(footer_text(f))}</div>'


# --- whole replies ------------------------------------------------------------------------

CSS = """<style>
.evo-reply{font-size:var(--jp-content-font-size1,14px);line-height:1.5}
.evo-reply .evo-thinking{border-left:3px solid var(--jp-border-color2,#ccc);padding:0 .6em;margin:.2em 0 .6em;
 color:var(--jp-content-font-color2,#555)}
.evo-reply .evo-thinking>summary{cursor:pointer;font-style:italic}
.evo-reply .evo-footer{color:var(--jp-content-font-color3,#777);font-size:.85em;margin-top:.4em}
.evo-reply .evo-banner{padding:.2em .6em;margin:.4em 0;border-left:3px solid #b45309;background:rgba(180,83,9,.08)}
.evo-reply .evo-banner.error{border-color:#b91c1c;background:rgba(185,28,28,.08)}
.evo-reply table{border-collapse:collapse}.evo-reply td,.evo-reply th{border:1px solid var(--jp-border-color2,#ccc);
 padding:2px 6px}.evo-reply pre{overflow-x:auto}
</style>"""


def _thinking_summary(f: Footer) -> str:
    if f.thinking_seconds is None:
        return "Thinking"
    return f"Thought for {f.thinking_seconds:.1f} s"


def tool_calls_markdown(snapshot: Any) -> str:
    calls = snapshot.tool_calls
    return "".join(f"\n\n`🔧 {c.name or '…'}({c.arguments})`" for c in calls)


def render_reply_html(snapshot: Any, footer: Footer, *, open_thinking: bool = False) -> str:
    parts = ['<div class="evo-reply">', CSS]
    if snapshot.reasoning:
        state = " open" if open_thinking else ""
        parts.append(
            f'<details class="evo-thinking"{state}><summary>{escape(_thinking_summary(footer))}</summary>'
            f"{render_markdown(snapshot.reasoning)}</details>"
        )
    parts.append(f'<div class="evo-answer">{render_markdown(snapshot.text)}</div>')
    for call in snapshot.tool_calls:
        parts.append(
            f'<details class="evo-tool"><summary>🔧 tool call <code>{escape(call.name)}</code></summary>'
            f"<pre>{escape(call.arguments)}</pre></details>"
        )
    if footer.status != "ok" and footer.message:
        kind = STATUS_CLASS.get(footer.status, "warn")
        parts.append(f'<div class="evo-banner {kind}">{escape(footer.message)}</div>')
    parts.append(footer_html(footer))
    parts.append("</div>")
    return "".join(parts)


def render_reply_text(snapshot: Any, footer: Footer) -> str:
    out = []
    if snapshot.reasoning:
        out.append(f"[{_thinking_summary(footer)}]")
        out.append(snapshot.reasoning.strip())
        out.append("")
    out.append(snapshot.text.strip())
    for call in snapshot.tool_calls:
        out.append(f"[tool call] {call.name}({call.arguments})")
    if footer.status != "ok" and footer.message:
        out.append(f"[{footer.message}]")
    out.append(f"— {footer_text(footer)}")
    return "\n".join(out)


# --- incremental live rendering -----------------------------------------------------------


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: what a browser's String.length counts."""
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class Delta:
    """What to send for one section: newly finished blocks (sent once), then the open tail as
    ``keep`` UTF-16 units of the previous tail HTML plus ``append``."""

    commit: tuple[str, ...]
    keep: int
    append: str

    @property
    def empty(self) -> bool:
        return not self.commit and not self.append and self.keep == -1

    def payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {"k": self.keep, "a": self.append}
        if self.commit:
            out["c"] = list(self.commit)
        return out


class MarkdownStream:
    """Splits a growing markdown source into finished top-level blocks and an open tail.

    Only the not-yet-committed tail is parsed on each update, so a step costs O(tail). A block
    is finished once another top-level block starts after it.
    """

    def __init__(self) -> None:
        self.committed = 0  # characters of the source already committed
        self._tail_html = ""
        self._source_len = 0

    def update(self, source: str) -> Delta | None:
        if len(source) == self._source_len:
            return None
        self._source_len = len(source)
        tail = source[self.committed :]
        commits: list[str] = []
        tokens = _md().parse(tail)
        starts = [t.map[0] for t in tokens if t.level == 0 and t.map and t.nesting >= 0]
        if len(starts) >= 2 and starts[-1] > 0:
            lines = tail.splitlines(keepends=True)
            cut = sum(len(line) for line in lines[: starts[-1]])
            commits.append(render_markdown(tail[:cut]))
            self.committed += cut
            tail = tail[cut:]
            self._tail_html = ""
        html = render_markdown(tail)
        common = len(os.path.commonprefix([self._tail_html, html]))
        keep = utf16_len(html[:common])
        append = html[common:]
        self._tail_html = html
        return Delta(tuple(commits), keep, append)
