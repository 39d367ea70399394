"""No evo_magic output is touched by math typesetting: every HTML output is marked for MathJax
to skip (``mathjax_ignore`` for JupyterLab / Notebook 7, ``tex2jax_ignore`` for the classic
Notebook), on each of its top-level elements. tests/browser/test_rendering.py proves the effect."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest

from evo_magic.core.events import Finished, ReasoningDelta, TextDelta
from evo_magic.core.snapshot import accumulate
from evo_magic.core.usage import Usage
from evo_magic.display.history import HistoryView
from evo_magic.display.logprobs import LogprobsView
from evo_magic.display.notices import NO_MATH, Notice, Table, ToolResult
from evo_magic.display.render import Footer, render_reply_html
from evo_magic.ledger.report import UsageRecord, UsageRows
from evo_magic.panels.render import snapshot_html
from evo_magic.sessions.reply import Reply, Timing, Turn

DOLLARS = "It costs $5 and $10, or $x^2$ in $$\\LaTeX$$"
AT = datetime(2026, 6, 10, 9, 0, tzinfo=timezone.utc)


class TopLevel(HTMLParser):
    """The class attribute of every top-level element (``<style>`` excepted)."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.classes: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.depth == 0 and tag != "style":
            self.classes.append(dict(attrs).get("class") or "")
        if tag not in ("br", "hr", "img", "input", "meta", "link", "circle", "line", "path"):
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag not in ("br", "hr", "img", "input", "meta", "link", "circle", "line", "path"):
            self.depth -= 1


def top_level_classes(markup: str) -> list[str]:
    parser = TopLevel()
    parser.feed(markup)
    parser.close()
    return parser.classes


def record(cost: str, offline: bool = False, minutes: int = 0) -> UsageRecord:
    return UsageRecord(
        time=AT + timedelta(minutes=minutes), notebook="n.ipynb", session="default", origin="cell", cell=1,
        model_requested="deepseek-v4-flash", model_answered="deepseek-v4-flash", protocol="openai",
        prompt_tokens=10, cache_hit_tokens=0, cache_miss_tokens=10, completion_tokens=5, reasoning_tokens=0,
        cost=Decimal(cost), ttft=0.1, elapsed=1.0, outcome="ok", error=None, offline=offline,
    )  # fmt: skip


def reply() -> SimpleNamespace:
    snap = accumulate([ReasoningDelta(DOLLARS), TextDelta(DOLLARS), Finished("stop")])
    footer = Footer("deepseek-v4-flash", Usage(10, 0, 10, 5, 0), 1.0, 0.1, 0.5, cost=Decimal("0.0012"), priced=True)
    return SimpleNamespace(snapshot=snap, footer=footer, text=DOLLARS, rounds=[], tool_calls=[], thinking_open=False)


def reply_object() -> Reply:
    return Reply(accumulate([TextDelta(DOLLARS), Finished("stop")]), "deepseek-v4-flash", "default", Timing(0.0, end=1.0))


OUTPUTS: dict[str, Callable[[], str]] = {
    "answer": lambda: render_reply_html(reply().snapshot, reply().footer),
    "notice": lambda: Notice(DOLLARS, title="$1")._repr_html_(),
    "table": lambda: Table("$ table", ["$a"], [[DOLLARS]], note="$ note")._repr_html_(),
    "tool result": lambda: ToolResult(SimpleNamespace(name="f", arguments='{"$": 1}'), DOLLARS, True)._repr_html_(),
    "choices": lambda: render_reply_html(
        accumulate([TextDelta(DOLLARS, choice=i) for i in range(3)]), Footer("m", None, 1.0, None, None)
    ),
    "logprobs": lambda: LogprobsView([{"token": "$", "logprob": -0.1, "top_logprobs": []}] * 2)._repr_html_(),
    "usage chart": lambda: UsageRows([record("0.0012"), record("0.0004", minutes=5)])._repr_html_(),
    "usage, emulator only": lambda: UsageRows([record("0.0012", offline=True)])._repr_html_(),
    "history": lambda: HistoryView("default", [Turn(DOLLARS, reply_object(), cell=3)])._repr_html_(),
    "panel snapshot": lambda: snapshot_html(
        [SimpleNamespace(prompt=DOLLARS, reply=reply(), messages=[])], "default", 1, "This notebook: $0.0012"
    ),
}


@pytest.mark.parametrize("name", list(OUTPUTS))
def test_every_html_output_is_skipped_by_mathjax(name: str) -> None:
    markup = OUTPUTS[name]()
    assert "$" in markup
    classes = top_level_classes(markup)
    assert classes, markup[:300]
    for found in classes:
        assert set(NO_MATH.split()) <= set(found.split()), (name, found, markup[:300])
