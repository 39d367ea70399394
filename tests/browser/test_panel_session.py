"""The chat panel in a long session, in real JupyterLab: ten long answers in the transcript,
then a new question streaming. Geometry is asserted, not just presence: the question just sent
and the streaming answer lie inside the transcript's visible rectangle, the view follows the
stream until the reader scrolls up, nothing inside the transcript is a squashed scroller of its
own, and nothing is wider than the panel.

DOM contract (beyond tests/browser/test_panel.py): ``.evo-panel-scroll`` is the transcript's
one scroll container; the question streaming now is the ``.evo-panel-streaming`` block.
"""

from __future__ import annotations

from typing import Any

import pytest

from . import harness
from .conftest import UI
from .test_panel import open_panel, turns

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(harness.missing() is not None, reason=str(harness.missing())),
    pytest.mark.skipif(harness.panel_missing() is not None, reason=str(harness.panel_missing())),
]

TOKEN = "https://example.org/" + "a" * 200  # one unbroken "word", wider than the panel
SEED = (
    "import evo_magic\n"
    "for i in range(10):\n"
    "    evo_magic.session().ask(f'Question {i + 1}: write an essay of 300 words about sampling bias')\n"
    "get_ipython().run_line_magic('deepseek', 'offline --rate 40')"
)

# The transcript's visible rectangle and what lies in it. "nested": elements inside the
# scroller that scroll on their own (code blocks and tables may, horizontally).
_JS_GEOMETRY = """panel => {
  const scroller = panel.querySelector('.evo-panel-scroll');
  const view = scroller.getBoundingClientRect();
  const box = e => { if (!e) return null; const b = e.getBoundingClientRect();
    return {top: b.top, bottom: b.bottom, left: b.left, right: b.right, height: b.height}; };
  const live = panel.querySelector('.evo-panel-streaming');
  const nested = [...scroller.querySelectorAll('*')].filter(e => {
    if (e.closest('pre, table')) return false;
    const style = getComputedStyle(e);
    return /(auto|scroll)/.test(style.overflowY) && e.scrollHeight > e.clientHeight + 1;
  }).map(e => `${e.tagName}.${e.className} ${e.clientHeight}/${e.scrollHeight}`);
  const wide = [...scroller.querySelectorAll('*')].filter(e => !e.closest('pre, table'))
    .filter(e => e.getBoundingClientRect().right > view.right + 1)
    .map(e => `${e.tagName}.${e.className}`).slice(0, 5);
  return {
    view: box(scroller),
    scrollTop: scroller.scrollTop,
    scrollHeight: scroller.scrollHeight,
    clientHeight: scroller.clientHeight,
    scrollWidth: scroller.scrollWidth,
    clientWidth: scroller.clientWidth,
    user: box(live && live.querySelector('.evo-panel-user')),
    answer: box(live && live.querySelector('.evo-live .evo-answer')),
    answerChars: live ? (live.querySelector('.evo-live .evo-answer') || {innerText: ''}).innerText.length : 0,
    liveBlock: box(live),
    nested,
    wide,
  };
}"""


def geometry(panel: Any) -> dict[str, Any]:
    return panel.evaluate(_JS_GEOMETRY)  # type: ignore[no-any-return]


def inside(rect: dict[str, float] | None, view: dict[str, float], slack: float = 2.0) -> bool:
    return rect is not None and rect["top"] >= view["top"] - slack and rect["bottom"] <= view["bottom"] + slack


def test_long_conversation_keeps_the_streaming_answer_in_view(ui: UI) -> None:
    page = ui.page
    name = "panel_long.ipynb"
    n = harness.write_notebook(
        ui.lab.root / name, ["%load_ext evo_magic", "%deepseek offline --rate 5000", SEED, "%deepseek panel"]
    )
    harness.open_notebook(page, ui.lab, name, n)
    ui.timings["run_all"] = round(harness.run_all(page, ui.lab, timeout=180), 2)
    panel = page.locator(f"{harness.NOTEBOOK} .evo-panel").first
    panel.wait_for(state="visible")
    panel.scroll_into_view_if_needed()
    assert len(turns(panel)) == 10
    g = geometry(panel)
    assert g["scrollHeight"] > 3 * g["clientHeight"], g  # ten long answers: far taller than the panel
    assert g["clientHeight"] >= 300, g  # a sensible height, not a sliver
    # A panel opened on a long conversation shows its newest turn.
    assert g["scrollTop"] + g["clientHeight"] >= g["scrollHeight"] - 2, g

    box = panel.locator(".evo-panel-input textarea")
    box.click()
    box.fill(f"Write an essay of 800 words about {TOKEN}")
    box.press("Enter")
    live = panel.locator(".evo-panel-streaming")
    live.wait_for(state="attached")
    harness.wait_until(page, lambda: geometry(panel)["answerChars"] > 0, "the answer to start streaming")
    g = geometry(panel)
    assert inside(g["user"], g["view"]), ("the question just sent is out of view", g)
    assert inside(g["answer"], g["view"]), ("the streaming answer is out of view", g)
    assert g["nested"] == [], g
    ui.screenshot("long_started.png")

    # The answer grows past the panel's height: the view follows it.
    harness.wait_until(
        page, lambda: geometry(panel)["liveBlock"]["height"] > geometry(panel)["clientHeight"] + 100,
        "the answer to grow taller than the panel", timeout=60,
    )  # fmt: skip
    g = geometry(panel)
    assert g["nested"] == [], ("a squashed scroller inside the transcript", g)
    assert inside({"top": g["answer"]["bottom"] - 20, "bottom": g["answer"]["bottom"]}, g["view"]), (
        "the view does not follow the stream", g,
    )  # fmt: skip
    assert g["scrollWidth"] <= g["clientWidth"] and g["wide"] == [], ("wider than the panel", g["wide"], g)
    ui.screenshot("long_following.png")

    # The reader scrolls up: the view stays where the reader put it while the answer grows.
    panel.locator(".evo-panel-scroll").hover()
    page.mouse.wheel(0, -600)
    page.wait_for_timeout(400)
    held = geometry(panel)
    assert held["scrollTop"] < g["scrollTop"] - 300, (g["scrollTop"], held["scrollTop"])
    harness.wait_until(
        page, lambda: geometry(panel)["answerChars"] > held["answerChars"] + 200, "the answer to grow", timeout=30
    )
    assert abs(geometry(panel)["scrollTop"] - held["scrollTop"]) <= 2, "the view jumped back to the stream"
    ui.screenshot("long_scrolled_up.png")

    # Back at the bottom, it follows again.
    page.mouse.wheel(0, 100_000)
    page.wait_for_timeout(400)
    grown = geometry(panel)["answerChars"]
    harness.wait_until(page, lambda: geometry(panel)["answerChars"] > grown + 100, "the answer to grow", timeout=30)
    g = geometry(panel)
    assert inside({"top": g["answer"]["bottom"] - 20, "bottom": g["answer"]["bottom"]}, g["view"]), g

    panel.locator("button.evo-panel-stop").click()
    harness.wait_until(
        page, lambda: "evo-panel-partial" in turns(panel)[-1]["classes"], "the stopped turn", timeout=5
    )
    page.wait_for_timeout(300)
    g = geometry(panel)
    assert g["scrollTop"] + g["clientHeight"] >= g["scrollHeight"] - 2, ("the stopped turn is out of view", g)
    assert g["scrollWidth"] <= g["clientWidth"] and g["wide"] == [], g
    ui.screenshot("long_stopped.png")
    assert harness.problems(page) == {"widget_errors": [], "error_outputs": []}
    assert ui.page_errors == [] and ui.blocked == []


THEME = ("@jupyterlab", "apputils-extension", "themes.jupyterlab-settings")

# Contrast ratio (WCAG) of an element's text against the first opaque background behind it.
_JS_CONTRAST = """el => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  let node = el, bg = null;
  while (node && node.nodeType === 1) {
    const c = rgb(getComputedStyle(node).backgroundColor);
    if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) { bg = c; break; }
    node = node.parentElement;
  }
  const [a, b] = [lum(rgb(getComputedStyle(el).color)), lum(bg || [255, 255, 255])];
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


def test_panel_thinking_opened_while_streaming_stays_open_in_the_dark_theme(ui: UI) -> None:
    settings = ui.lab.state / "settings" / THEME[0] / THEME[1]
    theme = settings / THEME[2]
    theme.write_text('{"theme": "JupyterLab Dark"}')
    try:
        _fold_in_the_panel(ui)
    finally:
        theme.unlink()


def _fold_in_the_panel(ui: UI) -> None:
    page = ui.page
    panel = open_panel(ui, "panel_fold.ipynb", rate=60)
    assert page.evaluate("() => document.body.dataset.jpThemeLight") == "false", "not the dark theme"
    box = panel.locator(".evo-panel-input textarea")
    box.click()
    box.press_sequentially("Write an essay of 150 words about sampling bias")
    box.press("Enter")
    live = panel.locator(".evo-panel-streaming .evo-live")
    harness.open_thinking_while_it_streams(page, live)  # the reader opens it
    ui.screenshot("dark_streaming.png")

    def ended() -> dict[str, Any] | None:
        last = turns(panel)[-1]
        return last if "evo-panel-streaming" not in last["classes"] and last["footer"].strip() else None

    harness.wait_until(page, ended, "the answer to end", timeout=60)
    final = panel.locator(".evo-panel-transcript > .evo-panel-turn").last.locator("details.evo-thinking")
    assert final.evaluate("d => d.open") is True, "the thinking snapped shut when the answer ended"
    ui.screenshot("dark_ended.png")

    # Readable in the dark theme: the question, the answer, code, the footer and the input box.
    for selector, least in (
        (".evo-panel-transcript > .evo-panel-turn:last-child .evo-panel-user", 4.5),
        (".evo-panel-transcript > .evo-panel-turn:last-child .evo-answer p", 4.5),
        (".evo-panel-transcript > .evo-panel-turn:last-child .evo-thinking-body p", 3.0),
        (".evo-panel-transcript > .evo-panel-turn:last-child .evo-answer pre", 4.5),
        (".evo-panel-transcript > .evo-panel-turn:last-child .evo-footer", 3.0),
        (".evo-panel-footer", 3.0),
        (".evo-panel-input textarea", 4.5),
    ):
        element = panel.locator(selector).first
        ratio = element.evaluate(_JS_CONTRAST)
        assert ratio >= least, f"{selector}: contrast {ratio:.2f} < {least} in the dark theme"
    assert ui.page_errors == [] and ui.blocked == []
