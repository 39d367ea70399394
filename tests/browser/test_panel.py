"""The chat panel (``%deepseek panel``) in real JupyterLab: ask, stream, stop, reopen.

DOM contract of the panel (what these tests select on):

* root ``.evo-panel``; the transcript ``.evo-panel-transcript`` holds one ``.evo-panel-turn``
  per question, with the question in ``.evo-panel-user`` and the answer rendered like a cell
  answer (``.evo-answer``, ``details.evo-thinking``, ``.evo-footer``);
* a ``<textarea>`` inside ``.evo-panel-input``: Enter sends, Shift+Enter inserts a newline,
  and the box is emptied once a question is sent; key presses in it never reach JupyterLab's
  notebook shortcuts (the panel's cell is not re-run);
* ``<button class="evo-panel-send">`` and ``<button class="evo-panel-stop">``;
* ``.evo-panel-footer``: the last request's usage and the notebook's cost (``N in``, ``N out``, ``$``);
* a stopped turn gets the class ``evo-panel-partial``, shows "Stopped" and keeps the partial answer;
* the kernel stays free while an answer streams (other cells run);
* the saved notebook shows the conversation without a kernel: ``.evo-panel-snapshot`` (static
  HTML, also in ``nbconvert --to html``), never "Error displaying widget".
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
import time
from typing import Any

import pytest

from . import harness
from .conftest import UI

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(harness.missing() is not None, reason=str(harness.missing())),
    pytest.mark.skipif(harness.panel_missing() is not None, reason=str(harness.panel_missing())),
]

QUESTION = "What is 2+2?"
LONG = "Write an essay of 800 words about sampling bias"  # ~6 s thinking, then ~30 s of answer at 40 tokens/s

_JS_TURNS = """panel => [...panel.querySelectorAll('.evo-panel-transcript .evo-panel-turn')].map(t => {
  const text = sel => { const e = t.querySelector(sel); return e ? e.innerText : ''; };
  return {
    classes: [...t.classList],
    text: t.innerText,
    user: text('.evo-panel-user'),
    answer: text('.evo-answer'),
    thinking: !!t.querySelector('details.evo-thinking'),
    footer: text('.evo-footer'),
  };
})"""


def turns(panel: Any) -> list[dict[str, Any]]:
    return panel.evaluate(_JS_TURNS)  # type: ignore[no-any-return]


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def open_panel(ui: UI, name: str, rate: int, extra: list[str] | None = None) -> Any:
    n = harness.write_notebook(
        ui.lab.root / name,
        ["%load_ext evo_magic", f"%deepseek offline --rate {rate}", "%deepseek panel", *(extra or [])],
    )
    harness.open_notebook(ui.page, ui.lab, name, n)
    ui.timings["run_all"] = round(harness.run_all(ui.page, ui.lab), 2)
    panel = ui.page.locator(f"{harness.NOTEBOOK} .evo-panel").first
    panel.wait_for(state="visible")
    return panel


def ask(ui: UI, panel: Any, question: str) -> dict[str, Any]:
    """Type the question, press Enter, wait for the answer with its footer; returns that turn."""
    before = len(turns(panel))
    box = panel.locator(".evo-panel-input textarea")
    box.click()
    box.press_sequentially(question)
    box.press("Enter")

    def answered() -> dict[str, Any] | None:
        ts = turns(panel)
        last = ts[-1] if len(ts) > before else None
        return last if last and last["answer"].strip() and last["footer"].strip() else None

    return harness.wait_until(ui.page, answered, f"an answer to {question!r}")  # type: ignore[no-any-return]


def prompts(ui: UI) -> list[str]:
    s = harness.state(ui.page)
    return list(s["prompts"]) if s else []


def test_panel_asks_streams_stops_and_leaves_the_kernel_free(ui: UI) -> None:
    page = ui.page
    panel = open_panel(ui, "panel.ipynb", rate=40, extra=["1+1"])
    assert harness.problems(page) == {"widget_errors": [], "error_outputs": []}
    box = panel.locator(".evo-panel-input textarea")
    assert box.count() == 1
    assert panel.locator("button.evo-panel-send").count() == 1
    assert panel.locator("button.evo-panel-stop").count() == 1
    ran = prompts(ui)

    # Enter sends; the box empties; the answer renders like a cell answer.
    first = ask(ui, panel, QUESTION)
    assert QUESTION in first["user"], first
    assert "4" in first["answer"], first
    assert first["thinking"], "the thinking should be in a details.evo-thinking"
    assert re.search(r"\d in\b", first["footer"]) and re.search(r"\d out\b", first["footer"]), first
    harness.wait_until(page, lambda: box.input_value() == "", "the textarea to be emptied after sending", timeout=5)
    page.wait_for_timeout(500)  # a keystroke update ipywidgets buffered must not refill it
    assert box.input_value() == "", box.input_value()
    footer = panel.locator(".evo-panel-footer").inner_text()
    assert re.search(r"\d in\b", footer) and re.search(r"\d out\b", footer) and "$" in footer, footer
    assert prompts(ui) == ran, "a key press in the panel re-ran a cell"

    # Shift+Enter is a newline, not a send.
    n_turns = len(turns(panel))
    box.click()
    box.press_sequentially("a")
    box.press("Shift+Enter")
    box.press_sequentially("b")
    assert box.input_value() == "a\nb"
    page.wait_for_timeout(300)
    assert len(turns(panel)) == n_turns and prompts(ui) == ran
    box.fill("")
    ui.screenshot("panel.png")

    # A long answer: it streams while the kernel runs other cells; Stop keeps the partial answer.
    box.press_sequentially(LONG)
    panel.locator("button.evo-panel-send").click()

    def streaming() -> int:
        ts = turns(panel)
        return len(ts[-1]["answer"].strip()) if len(ts) > n_turns else 0

    seen = harness.wait_until(page, streaming, "the long answer to start streaming")
    assert LONG in turns(panel)[-1]["user"], "Send sent a question other than the box's text"
    assert box.input_value() == "", "Send left the question in the box"
    harness.wait_until(page, lambda: streaming() > seen, "the long answer to grow", timeout=15)

    one_plus_one = harness.cell(page, 3)
    before = one_plus_one.locator(".jp-InputArea-prompt").inner_text().strip()
    one_plus_one.locator(".jp-InputArea-editor").click()
    started = time.monotonic()
    page.keyboard.press("Shift+Enter")

    def reran() -> bool:
        prompt = one_plus_one.locator(".jp-InputArea-prompt").inner_text().strip()
        out = one_plus_one.locator(".jp-OutputArea-output").all_inner_texts()
        return prompt != before and re.fullmatch(r"\[\d+\]:", prompt) is not None and out == ["2"]

    harness.wait_until(page, reran, "1+1 to run while the panel streams", timeout=10)
    ui.timings["cell_during_stream"] = round(time.monotonic() - started, 2)
    assert ui.timings["cell_during_stream"] < 2.0, "the kernel was blocked by the streaming panel"
    assert streaming() > 0 and "evo-panel-partial" not in turns(panel)[-1]["classes"]

    panel.locator("button.evo-panel-stop").click()
    started = time.monotonic()

    def stopped() -> dict[str, Any] | None:
        last = turns(panel)[-1]
        return last if "evo-panel-partial" in last["classes"] else None

    last = harness.wait_until(page, stopped, "the turn to be marked partial after Stop", timeout=3)
    ui.timings["stop"] = round(time.monotonic() - started, 2)
    assert "Stopped" in last["text"], last["text"][-500:]
    assert last["answer"].strip(), "the partial answer should be kept"
    page.wait_for_timeout(1000)
    assert len(turns(panel)[-1]["answer"]) == len(last["answer"]), "the answer kept growing after Stop"
    assert harness.problems(page) == {"widget_errors": [], "error_outputs": []}
    assert ui.page_errors == []
    assert ui.blocked == []
    shot = ui.screenshot("panel_stopped.png")
    if os.environ.get("EVO_MAGIC_UPDATE_SCREENSHOT") == "1":  # the README's picture
        docs = harness.REPO / "docs"
        docs.mkdir(exist_ok=True)
        shutil.copyfile(shot, docs / "panel.png")


def test_saved_panel_reopens_as_a_static_snapshot(ui: UI) -> None:
    page = ui.page
    name = "panel_saved.ipynb"
    panel = open_panel(ui, name, rate=400)
    turn = ask(ui, panel, QUESTION)
    answer = turn["answer"].strip()
    assert "4" in answer, turn

    path = ui.lab.root / name
    saved_before = path.stat().st_mtime_ns
    harness.click_menu(page, "File", "docmanager:save")
    harness.wait_until(page, lambda: path.stat().st_mtime_ns != saved_before, "the notebook to be saved", timeout=15)
    harness.wait_until(
        page, lambda: page.locator(".lm-TabBar-tab.jp-mod-current.jp-mod-dirty").count() == 0, "a clean tab", timeout=15
    )
    assert ui.lab.shutdown_sessions(path=name) == 1

    harness.open_notebook(page, ui.lab, name, 3)  # a new kernel: no widget models
    page.wait_for_timeout(1500)  # give the widget manager time to fail, if it is going to
    assert harness.problems(page)["widget_errors"] == []
    snapshot = page.locator(f"{harness.NOTEBOOK} .evo-panel-snapshot").first
    snapshot.wait_for(state="visible", timeout=10_000)
    shown = snapshot.inner_text()
    assert QUESTION in shown, shown[:1000]
    assert squash(answer) in squash(shown), (answer, shown[:1000])
    ui.screenshot("reopened.png")

    result = subprocess.run(
        [sys.executable, "-m", "nbconvert", "--to", "html", "--output-dir", str(ui.out), str(path)],
        env=ui.lab.env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    exported = (ui.out / "panel_saved.html").read_text()
    assert "evo-panel-snapshot" in exported
    text = html.unescape(re.sub(r"<[^>]+>", "", exported))
    assert squash(answer) in squash(text), answer
    assert ui.page_errors == []
    assert ui.blocked == []
