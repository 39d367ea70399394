"""A ``%%deepseek`` cell in real JupyterLab: rendered markdown, folded thinking, usage footer."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest

from . import harness
from .conftest import UI

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(harness.missing() is not None, reason=str(harness.missing())),
]

PROMPT = "Explain what a p-value is with a bullet list and a short Python example"


def test_cell_answer_renders_markdown_with_folded_thinking_and_footer(ui: UI) -> None:
    started = time.monotonic()
    name = "cells.ipynb"
    n = harness.write_notebook(
        ui.lab.root / name,
        ["%load_ext evo_magic", "%deepseek offline", f"%%deepseek --think\n{PROMPT}"],
    )
    page = ui.page
    harness.open_notebook(page, ui.lab, name, n)
    ui.timings["open"] = round(time.monotonic() - started, 2)
    ui.timings["run_all"] = round(harness.run_all(page, ui.lab), 2)

    reply = harness.cell(page, 2).locator(".jp-Cell-outputArea")
    answer = reply.locator(".evo-answer")
    assert answer.count() == 1, f"no single .evo-answer in the output: {reply.inner_text()[:500]!r}"
    # Rendered markdown, not its source.
    assert answer.locator("li").count() >= 2, answer.inner_html()[:1000]
    assert answer.locator("pre code").count() >= 1, answer.inner_html()[:1000]
    assert answer.locator("strong").count() >= 1, answer.inner_html()[:1000]
    text = answer.inner_text()
    assert "**" not in text and "```" not in text, text[:1000]
    assert not re.search(r"^\s*[-*] ", text, re.M), f"markdown list source shown as text: {text[:1000]!r}"

    thinking = reply.locator("details.evo-thinking")
    assert thinking.count() == 1, reply.inner_html()[:1000]
    assert thinking.evaluate("d => d.open") is False, "the thinking should be folded once the answer is done"
    assert thinking.locator("summary").inner_text().strip()

    footer = reply.locator(".evo-footer").inner_text()
    assert "deepseek-v4-flash" in footer, footer
    assert re.search(r"\d[\d,]* in\b", footer) and re.search(r"\d[\d,]* out\b", footer), footer

    assert harness.problems(page) == {"widget_errors": [], "error_outputs": []}
    assert ui.page_errors == []
    assert ui.blocked == [], "the page tried to leave 127.0.0.1"
    ui.screenshot("notebook.png")

    thinking.locator("summary").click()
    assert thinking.evaluate("d => d.open") is True, "a click on the summary should unfold the thinking"
    assert thinking.locator(".evo-thinking-body").inner_text().strip()
    ui.screenshot("details_open.png")
    ui.timings["total"] = round(time.monotonic() - started, 2)


FOLD_PROMPT = "Write an essay of 150 words about sampling bias"


def start_streaming_cell(ui: UI, name: str, rate: int) -> Any:
    """A notebook whose third cell asks with thinking on an emulator at ``rate`` tokens/s: Run
    All, without waiting. Returns that cell's output area."""
    cells = ["%load_ext evo_magic", f"%deepseek offline --rate {rate}", f"%%deepseek --think\n{FOLD_PROMPT}"]
    harness.open_notebook(ui.page, ui.lab, name, harness.write_notebook(ui.lab.root / name, cells))
    harness.click_menu(ui.page, "Run", "runmenu:run-all")
    return harness.cell(ui.page, 2).locator(".jp-Cell-outputArea")


def test_thinking_the_reader_opened_stays_open_when_the_answer_ends(ui: UI) -> None:
    page = ui.page
    name = "fold.ipynb"
    out = start_streaming_cell(ui, name, rate=60)
    live = out.locator(".evo-live")
    details = harness.open_thinking_while_it_streams(page, live)  # the reader opens it
    top = details.bounding_box()["y"]
    assert live.count() == 1, "the answer ended before the test could look"

    final = out.locator(".evo-reply:not(.evo-live) details.evo-thinking")
    harness.wait_until(page, lambda: final.count() == 1, "the final answer", timeout=60)
    assert final.evaluate("d => d.open") is True, "the thinking snapped shut when the answer ended"
    assert abs(final.bounding_box()["y"] - top) <= 4, "the page jumped when the answer ended"
    harness.wait_until(page, lambda: harness.idle(harness.state(page)), "an idle kernel")
    page.wait_for_timeout(1000)  # the kernel hears of the reader's click once the cell is done
    assert out.locator(".evo-reply:not(.evo-live) details.evo-thinking").evaluate("d => d.open") is True
    ui.screenshot("fold_kept_open.png")

    # The saved notebook keeps it open too.
    path = ui.lab.root / name
    before = path.stat().st_mtime_ns
    harness.click_menu(page, "File", "docmanager:save")
    harness.wait_until(page, lambda: path.stat().st_mtime_ns != before, "the notebook to be saved", timeout=15)
    saved = json.loads(path.read_text())
    html = "".join("".join(o.get("data", {}).get("text/html", "")) for o in saved["cells"][2]["outputs"])
    assert '<details class="evo-thinking" open>' in html, html[:500]
    assert harness.problems(page) == {"widget_errors": [], "error_outputs": []}
    assert ui.page_errors == [] and ui.blocked == []


def test_an_interrupted_cell_says_so_once(ui: UI) -> None:
    page = ui.page
    out = start_streaming_cell(ui, "interrupt.ipynb", rate=40)
    live = out.locator(".evo-live .evo-answer")
    harness.wait_until(
        page, lambda: live.count() == 1 and live.inner_text().strip() != "", "the answer to stream", timeout=60
    )
    harness.click_menu(page, "Kernel", "kernelmenu:interrupt")
    harness.wait_until(page, lambda: harness.idle(harness.state(page)), "the interrupted cell to end")
    page.wait_for_timeout(500)
    shown = out.inner_text()
    assert shown.count("Interrupted") == 1, f"the interrupt is told more than once: {shown[-600:]!r}"
    assert re.search(r"Interrupted: the partial answer \([\d,]+ characters\) and its thinking are kept above\.", shown)
    assert out.locator(".evo-reply:not(.evo-live) .evo-answer").inner_text().strip(), "the partial answer is kept"
    assert out.locator(".evo-reply:not(.evo-live) details.evo-thinking").count() == 1, "its thinking is kept"
    ui.screenshot("interrupted.png")
    assert ui.page_errors == [] and ui.blocked == []
