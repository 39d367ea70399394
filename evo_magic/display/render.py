"""An answer as static HTML and plain text (pure: snapshot + footer in, strings out).

:func:`render_reply_html` is what a notebook keeps once an answer is done: no JavaScript, a
small ``<style>`` scoped under ``.evo-reply`` that follows the JupyterLab / VS Code theme
(``var(--jp-...)`` with fallbacks, so it reads in light and dark themes, and without the style
too; the markdown rules are as specific as JupyterLab's own and come later, so they apply),
the thinking folded in a ``<details>``, the answer as markdown, tool calls, a status banner
when the answer is incomplete, and the :class:`Footer`. :func:`render_reply_text` is the
``text/plain`` twin for terminals. Model output is untrusted: markdown goes through
:mod:`evo_magic.display.markdown` (raw HTML off), everything else through :func:`html.escape`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from html import escape
from typing import TYPE_CHECKING

from ..core.status import Status, status_label
from .closing import close_markdown
from .highlight import highlight_css
from .markdown import render_markdown
from .money import format_money, if_billed
from .notices import NO_MATH, printable

if TYPE_CHECKING:
    from ..core.snapshot import ChoiceSnapshot, ToolCall, TurnSnapshot
    from ..core.usage import Usage

__all__ = [
    "Footer",
    "banner_html",
    "choice_heading",
    "choice_label",
    "cut_short",
    "footer_html",
    "footer_text",
    "json_answer",
    "render_markdown",
    "render_reply_html",
    "render_reply_text",
    "reply_css",
    "sanitize_text",
    "status_text",
    "thinking_label",
]

_CONTINUE = "%deepseek continue"  # what rescues an answer cut at max_tokens, and the option to raise
_MAX_TOKENS_FLAG = "--max-tokens"


@dataclass(frozen=True)
class Footer:
    """What the line under an answer says.

    ``elapsed`` is the whole request in seconds, ``ttft`` the time to the first token,
    ``thinking_seconds`` the time spent thinking. ``cost`` is ``None`` when the price is
    unknown (never shown as $0); ``offline`` marks an answer of the bundled emulator, whose
    cost is only what DeepSeek would charge and reads so. ``status`` is how the answer ended
    (:data:`~evo_magic.core.status.Status`; the banner says its label from
    :data:`~evo_magic.core.status.STATUS_WORDS`); ``message`` is a one-line notice for the banner;
    ``banner`` False leaves the status unsaid (an interrupted cell: its traceback line says it).
    ``max_tokens`` is the limit the request set (None: not known), which the banner of an
    answer cut at it (``"length"``) names; see :func:`cut_short`. ``notes`` follow the status
    words in the banner (the tool-call cap), whatever the status. ``cached`` marks an answer
    from the cache: no request, no time, ``cached · $0 (saved $…)`` with ``saved`` what asking
    again would have cost (None: unknown).
    """

    model: str | None
    usage: Usage | None
    elapsed: float
    ttft: float | None
    thinking_seconds: float | None
    cost: Decimal | None = None
    priced: bool = False  # the ledger tried to price it: a None cost then reads "unknown"
    offline: bool = False  # the bundled emulator answered: the cost reads "$… if billed (emulator)"
    status: Status = "ok"
    message: str | None = None
    banner: bool = True
    max_tokens: int | None = None
    cached: bool = False
    saved: Decimal | None = None
    notes: str | None = None


def sanitize_text(text: str) -> str:
    """``text`` without control characters (:func:`~evo_magic.display.notices.printable` with
    ``drop``): model output must not move a terminal's cursor or restyle it."""
    return printable(text, drop=True)


def _seconds(value: float) -> str:
    if value < 59.95:
        return f"{value:.1f} s"
    minutes, rest = divmod(round(value), 60)
    return f"{minutes} min {rest:02d} s"


def thinking_label(seconds: float | None, *, done: bool = True) -> str:
    """The summary of the thinking section: ``"Thought for 6.3 s"`` / ``"Thinking… 4.2 s"``."""
    if done:
        return "Thought" if seconds is None else f"Thought for {_seconds(seconds)}"
    return "Thinking…" if seconds is None else f"Thinking… {_seconds(seconds)}"


def _footer_parts(footer: Footer) -> list[str]:
    parts = [footer.model] if footer.model else []
    usage = footer.usage
    if usage is not None:
        cached = None if footer.cached else usage.cache_hit_ratio  # the prefix cache's share, when asked
        parts.append(f"{usage.prompt_tokens:,} in" + (f" ({cached:.0%} cached)" if cached is not None else ""))
        out = f"{usage.completion_tokens:,} out"
        if usage.reasoning_tokens:
            out += f" ({usage.reasoning_tokens:,} reasoning)"
        parts.append(out)
    if footer.cached:  # no request was made: no time to tell, nothing spent
        saved = "" if footer.saved is None and not footer.priced else f" (saved {format_money(footer.saved)})"
        return [*parts, "cached", f"$0{saved}"]
    parts.append(_seconds(footer.elapsed))
    if footer.cost is not None or (footer.priced and usage is not None):
        money = format_money(footer.cost)  # "unknown" for a model without a known price
        parts.append(if_billed(money) if footer.offline else money)  # the emulator bills nobody
    elif usage is None and footer.priced and footer.status == "interrupted":  # sent, stopped before the usage
        parts.append("tokens and cost unknown")
    return parts


def footer_text(footer: Footer) -> str:
    """One line, e.g. ``deepseek-v4-flash · 1,234 in (75% cached) · 210 out (198 reasoning) · 3.2 s``
    (no control character: the model's name is the server's word)."""
    return sanitize_text(" · ".join(_footer_parts(footer)))


def footer_html(footer: Footer) -> str:
    """The footer line as escaped HTML; the title tooltip tells the time to first token."""
    title = f"first token after {_seconds(footer.ttft)}" if footer.ttft is not None else ""
    attr = f' title="{escape(title)}"' if title else ""
    return f'<div class="evo-footer"{attr}>{escape(footer_text(footer))}</div>'


def cut_short(
    usage: Usage | None, max_tokens: int | None, *, answered: bool | None = None, html: bool = False
) -> str:
    """One line on an answer cut at max_tokens (``finish_reason: "length"``): how many tokens,
    how many of them went to thinking, and what to do, e.g. ``cut at 4,096 tokens: 3,900 went
    to thinking — %deepseek continue, or raise --max-tokens``, or for an empty answer ``no
    answer: all 4,096 tokens went to thinking — …``.

    The limit is ``max_tokens``, else the usage's completion tokens, else unnamed. ``answered``
    says whether any answer text came (None: decided by the usage, no answer when every
    completion token was a reasoning token). ``html`` marks the command and the option as code.
    """
    limit = max_tokens or (usage.completion_tokens if usage is not None else None) or None
    thought = usage.reasoning_tokens if usage is not None else None
    if answered is None:
        answered = not (usage is not None and thought is not None and 0 < usage.completion_tokens <= thought)
    cut = f"cut at {limit:,} tokens" if limit else "cut at max_tokens"
    if not answered and thought and limit and thought >= limit:
        said = f"no answer: all {limit:,} tokens went to thinking"
    else:
        said = ("" if answered else "no answer: ") + cut
        if thought:
            said += f"{':' if answered else ','} {thought:,} went to thinking"
    command, flag = (f"<code>{w}</code>" if html else w for w in (_CONTINUE, _MAX_TOKENS_FLAG))
    return f"{said} — {command}, or raise {flag}"


def status_text(footer: Footer, *, answered: bool | None = None, html: bool = False) -> str | None:
    """The banner line for an incomplete answer, then the footer's notes; None when the status
    is ``"ok"`` and there are no notes. An answer cut at max_tokens says so in words
    (:func:`cut_short`; ``answered``: whether it has any text) unless the footer brings its own
    message; ``html`` gives escaped HTML."""
    if not footer.banner:
        return None
    notes = footer.notes and (escape(footer.notes) if html else footer.notes)
    if footer.status == "length" and not footer.message:
        said: str | None = cut_short(footer.usage, footer.max_tokens, answered=answered, html=html)
    else:
        if footer.status == "ok":
            text = footer.message
        elif footer.message and footer.status == "error":
            text = f"{status_label('error')}: {footer.message}"
        else:
            text = footer.message or status_label(footer.status)
        said = escape(text) if html and text is not None else text
    if said and notes and not said.endswith((".", "!", "?")):
        said += "."  # the notes are sentences of their own
    return " ".join(t for t in (said, notes) if t) or None


def banner_html(footer: Footer, answered: bool | None = None) -> str:
    """The banner of :func:`status_text` as a ``<div>`` (empty when there is none)."""
    text = status_text(footer, answered=answered, html=True)
    if text is None:
        return ""
    kind = "error" if footer.status == "error" else "info" if footer.status == "ok" else "warn"
    return f'<div class="evo-banner {kind}" role="status">{text}</div>'


def _tool_calls_html(calls: list[ToolCall]) -> str:
    out = []
    for call in calls:
        out.append(
            '<details class="evo-tool-call"><summary>Tool call <code>'
            f"{escape(call.name or '?')}</code></summary>"
            f"<pre>{escape(call.arguments)}</pre></details>"
        )
    return "".join(out)


def reply_css() -> str:
    """The stylesheet of answers, scoped under ``.evo-reply`` (the live view uses it too)."""
    return _CSS + "\n" + highlight_css()


def choice_label(index: int, total: int, *, html: bool = False) -> str:
    """``Choice 2 of 3 · %deepseek pick 2 continues from it`` (choice numbers from 1)."""
    if index == 0:
        return f"Choice 1 of {total} · the conversation continues from it"
    command = f"%deepseek pick {index + 1}"
    return f"Choice {index + 1} of {total} · {f'<code>{command}</code>' if html else command} continues from it"


def choice_heading(index: int, total: int) -> str:
    """The text form of :func:`choice_label`: ``Choice 2 of 3 (%deepseek pick 2 continues from it):``."""
    number, _, rest = choice_label(index, total).partition(" · ")
    return f"{number} ({rest}):"


def json_answer(text: str) -> str | None:
    """The answer as indented JSON (``-f json``), or None when it is not one JSON value."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return json.dumps(value, indent=2, ensure_ascii=False)


def _answer_markdown(text: str, as_json: bool) -> str:
    pretty = json_answer(text) if as_json else None
    return text if pretty is None else f"```json\n{pretty}\n```\n"


def _choice_html(
    choice: ChoiceSnapshot, footer: Footer, open_thinking: bool, as_json: bool, finish: Callable[[str], str]
) -> str:
    parts = []
    if choice.has_reasoning and choice.reasoning.strip():
        label = escape(thinking_label(footer.thinking_seconds))
        parts.append(
            f'<details class="evo-thinking"{" open" if open_thinking else ""}>'
            f"<summary>{label}</summary>"
            f'<div class="evo-thinking-body evo-md">{render_markdown(finish(choice.reasoning))}</div></details>'
        )
    if choice.text:
        answer = render_markdown(_answer_markdown(finish(choice.text), as_json))
        parts.append(f'<div class="evo-answer evo-md">{answer}</div>')
    parts.append(_tool_calls_html(choice.ordered_tool_calls()))
    return "".join(parts)


def render_reply_html(
    snapshot: TurnSnapshot,
    footer: Footer,
    *,
    open_thinking: bool = False,
    as_json: bool = False,
    live_key: str | None = None,
) -> str:
    """The final static HTML of an answer (what the saved notebook keeps; no JavaScript).

    Several choices (``n`` > 1) are each labelled (:func:`choice_label`) and styled alike, with
    one footer after them; ``as_json`` shows an answer that is JSON indented and highlighted.
    ``live_key`` names the live view it replaces (the browser keeps the reader's fold as is).
    An answer cut short (Stop, Ctrl-C, an error, max_tokens) closes the markup it left open.
    """
    key = f' data-evo-live="{escape(live_key)}"' if live_key else ""
    finish: Callable[[str], str] = (lambda text: text) if footer.status == "ok" else close_markdown
    indexes = sorted(snapshot.choices) or [0]
    parts = []
    for index in indexes:
        body = _choice_html(snapshot.choice(index), footer, open_thinking, as_json, finish)
        if len(indexes) > 1:
            label = choice_label(index, len(indexes), html=True)
            body = f'<section class="evo-choice"><div class="evo-choice-label">{label}</div>{body}</section>'
        parts.append(body)
    answered = any(snapshot.choice(i).text for i in indexes)
    parts += [banner_html(footer, answered), footer_html(footer)]
    body = "".join(parts)
    css = _CSS + ("\n" + highlight_css() if 'evo-hl">' in body else "")  # code colours only where needed
    return f'<div class="evo-reply {NO_MATH}"{key}><style>{css}</style>{body}</div>'


def render_reply_text(
    snapshot: TurnSnapshot, footer: Footer, *, thinking_chars: int = 600, as_json: bool = False
) -> str:
    """The ``text/plain`` form: thinking (cut after ``thinking_chars``), answer, tool calls,
    status line and footer line, each choice under its label when there are several.
    Control characters are removed."""
    indexes = sorted(snapshot.choices) or [0]
    blocks = []
    for index in indexes:
        choice = snapshot.choice(index)
        if len(indexes) > 1:
            blocks.append(choice_heading(index, len(indexes)))
        reasoning = choice.reasoning.strip()
        if reasoning:
            seconds = footer.thinking_seconds
            head = f"Thinking ({_seconds(seconds)}):" if seconds is not None else "Thinking:"
            if len(reasoning) > thinking_chars:
                reasoning = f"{reasoning[:thinking_chars].rstrip()}… ({len(reasoning):,} characters)"
            blocks.append(f"{head}\n{reasoning}")
        if choice.text.strip():
            pretty = json_answer(choice.text) if as_json else None
            blocks.append(pretty if pretty is not None else choice.text.strip("\n"))
        for call in choice.ordered_tool_calls():
            blocks.append(f"Tool call: {call.name or '?'}({call.arguments})")
    status = status_text(footer, answered=any(snapshot.choice(i).text for i in indexes))
    if status:
        blocks.append(f"[{status}]")
    blocks.append(footer_text(footer))
    return printable("\n\n".join(blocks), drop=True)


_CSS = """
.evo-reply{--evo-muted:var(--jp-ui-font-color2,var(--vscode-descriptionForeground,#6b7280));
--evo-border:var(--jp-border-color2,var(--vscode-panel-border,rgba(127,127,127,.35)));
--evo-code-bg:var(--jp-layout-color2,var(--vscode-textCodeBlock-background,rgba(127,127,127,.12)));
color:var(--jp-content-font-color1,inherit);line-height:1.5;max-width:100%}
.evo-reply .evo-thinking{border-left:3px solid var(--evo-border);padding:0 0 0 10px;margin:2px 0 8px;
color:var(--evo-muted)}
.evo-reply .evo-thinking>summary{cursor:pointer;user-select:none;font-size:.92em;color:var(--evo-muted)}
.evo-reply .evo-thinking-body{font-size:.92em}
.evo-reply .evo-md pre{background:var(--evo-code-bg);padding:8px 10px;border-radius:4px;overflow-x:auto}
.evo-reply .evo-md code{background:var(--evo-code-bg);padding:0 3px;border-radius:3px}
.evo-reply .evo-md pre code{background:none;padding:0}
.evo-reply .evo-md table{border-collapse:collapse;margin:6px 0}
.evo-reply .evo-md th,.evo-reply .evo-md td{border:1px solid var(--evo-border);padding:3px 8px}
.evo-reply .evo-md blockquote{border-left:3px solid var(--evo-border);margin:4px 0;padding-left:10px;
color:var(--evo-muted)}
.evo-reply .evo-tool-call>summary{cursor:pointer;color:var(--evo-muted)}
.evo-reply .evo-tool-call pre{background:var(--evo-code-bg);padding:6px 10px;border-radius:4px;overflow-x:auto}
.evo-reply .evo-banner{border-left:3px solid;padding:3px 8px;margin:6px 0;border-radius:2px}
.evo-reply .evo-banner.warn{border-color:var(--jp-warn-color1,#d97706);background:rgba(217,119,6,.14);
background:color-mix(in srgb,var(--jp-warn-color1,#d97706) 16%,transparent)}
.evo-reply .evo-banner.error{border-color:var(--jp-error-color1,#dc2626);background:rgba(220,38,38,.14);
background:color-mix(in srgb,var(--jp-error-color1,#dc2626) 16%,transparent)}
.evo-reply .evo-banner.info{border-color:var(--jp-brand-color1,#2563eb)}
.evo-reply .evo-footer{color:var(--evo-muted);font-size:.85em;margin-top:4px}
.evo-reply .evo-choice{border-top:1px solid var(--evo-border);padding-top:2px;margin:10px 0 0}
.evo-reply .evo-choice:first-of-type{border-top:none;margin-top:0}
.evo-reply .evo-choice-label{color:var(--evo-muted);font-size:.85em;margin-bottom:2px}
""".strip()
