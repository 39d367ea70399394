"""Display test helpers: fake widgets, handles and clock for the live views, the XSS corpus and its audit, and the MathJax check every HTML output passes."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from evo_magic.core.events import Finished, ReasoningDelta, TextDelta
from evo_magic.core.snapshot import TurnSnapshot, accumulate
from evo_magic.core.usage import Usage
from evo_magic.display.assets import asset_path
from evo_magic.display.markdown import Delta
from evo_magic.display.notices import NO_MATH
from evo_magic.display.render import (
    Footer,
)

from ..conftest import FIXTURES


class FakeWidget:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[str] = []
        self.closed = 0
        self.fail = fail

    def send(self, content: dict[str, Any]) -> None:
        if self.fail:
            raise RuntimeError("comm closed")
        self.sent.append(json.dumps(content, ensure_ascii=False))

    def close(self) -> None:
        self.closed += 1

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [json.loads(m) for m in self.sent]

    @property
    def bytes(self) -> int:
        return sum(len(m.encode()) for m in self.sent)


class FakeHandle:
    def __init__(self) -> None:
        self.updates: list[tuple[Any, dict[str, Any]]] = []

    def update(self, obj: Any, **kwargs: Any) -> None:
        self.updates.append((obj, kwargs))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def footer(snap: TurnSnapshot, **kw: Any) -> Footer:
    return Footer("deepseek-v4-flash", snap.usage, 12.0, 0.5, 3.0, **kw)


def run_js(messages: list[dict[str, Any]], clicks: list[int], tmp_path: Path) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed; the JS replay is covered in Python only")
    data = tmp_path / "messages.json"
    data.write_text(json.dumps(messages), encoding="utf-8")
    script = FIXTURES / "live_dom.mjs"
    out = subprocess.run(
        [node, str(script), str(asset_path("display/live.js")), str(data), ",".join(map(str, clicks))],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return json.loads(out.stdout)


CORPUS = (FIXTURES / "xss_corpus.txt").read_text(encoding="utf-8").split("\n%%\n")


ALLOWED_TAGS = {
    "a", "blockquote", "br", "code", "del", "details", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "li", "ol", "p", "pre", "s", "span", "strong", "summary", "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip


class Audit(HTMLParser):
    """Every tag and attribute of an HTML string, judged independently of the renderer's own check."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS and tag != "style":
            self.problems.append(f"tag <{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"event handler {name}")
            if name in ("href", "src", "action", "formaction", "xlink:href") and value is not None:
                squeezed = re.sub(r"[\x00-\x20\x7f-\x9f]", "", html.unescape(value)).lower()
                scheme = re.match(r"([a-z][a-z0-9+.-]*):", squeezed)
                if scheme and scheme.group(1) not in ("http", "https", "mailto"):
                    self.problems.append(f"{name}={value!r}")


def audit(markup: str, *, style_blocks: int = 0) -> list[str]:
    parser = Audit()
    parser.feed(markup)
    parser.close()
    problems = parser.problems
    if markup.lower().count("<style") != style_blocks:
        problems.append("unexpected <style>")
    if re.search(r"<script", markup, re.I):
        problems.append("<script")
    return problems


def replay(state: dict, delta: Delta) -> None:
    """What display/live.js does with one op (tail indexes in UTF-16 code units)."""
    tail = state["tail"].encode("utf-16-le", "surrogatepass")
    if delta.moved:
        state["blocks"].append(tail[: 2 * delta.moved].decode("utf-16-le", "surrogatepass"))
        tail = tail[2 * delta.moved :]
    state["blocks"].extend(delta.committed)
    state["tail"] = (tail[: 2 * delta.keep] + delta.append.encode("utf-16-le", "surrogatepass")).decode("utf-16-le", "surrogatepass")


PYTHON = "```python\nimport os\n\ndef add_one(x):\n    return x + 1  # one more\n\nprint(add_one(41), f'{os.sep}')\n```\n"


def spans(markup: str) -> dict[str, str]:
    """The class of each highlighted token text, at its first occurrence."""
    found: dict[str, str] = {}
    for cls, text in re.findall(r'<span class="hl-(\w+)">([^<]*)</span>', markup):
        found.setdefault(text, cls)
    return found


DOLLARS = "It costs $5 and $10, or $x^2$ in $$\\LaTeX$$"


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


def dollars_reply() -> SimpleNamespace:
    """A reply whose thinking and answer are full of dollars (for the MathJax tests)."""
    snap = accumulate([ReasoningDelta(DOLLARS), TextDelta(DOLLARS), Finished("stop")])
    footer = Footer("deepseek-v4-flash", Usage(10, 0, 10, 5, 0), 1.0, 0.1, 0.5, cost=Decimal("0.0012"), priced=True)
    return SimpleNamespace(snapshot=snap, footer=footer, text=DOLLARS, rounds=[], tool_calls=[], thinking_open=False)


def assert_skipped_by_mathjax(name: str, markup: str) -> None:
    """No evo_magic output is touched by math typesetting: every HTML output is marked for MathJax
    to skip (``mathjax_ignore`` for JupyterLab / Notebook 7, ``tex2jax_ignore`` for the classic
    Notebook), on each of its top-level elements. tests/browser/test_rendering.py proves the effect."""

    assert "$" in markup
    classes = top_level_classes(markup)
    assert classes, markup[:300]
    for found in classes:
        assert set(NO_MATH.split()) <= set(found.split()), (name, found, markup[:300])


FOOTER = Footer("deepseek-v4-flash", Usage(30, 0, 30, 90, 12), 2.0, 0.3, 1.0)


def three_choices() -> Any:
    events: list[Any] = []
    for i in range(3):
        events += [ReasoningDelta(f"think {i}", choice=i), TextDelta(f"**answer {i + 1}**", choice=i)]
    return accumulate([*events, *(Finished("stop", choice=i) for i in range(3))])
