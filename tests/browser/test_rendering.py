"""What a reader sees of answers in real JupyterLab: dollars stay dollars (no MathJax), code is
highlighted in the light and the dark theme, ``%deepseek help`` keeps its layout.

Each test leaves screenshots in ``test-output/<test name>/``.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from . import harness
from .conftest import UI

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(harness.missing() is not None, reason=str(harness.missing())),
]

QUESTION = "What do $5 and $10 make together, in Python?"
USAGE_CELL = """\
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from evo_magic.ledger.report import UsageRecord, UsageRows

at = datetime(2026, 6, 10, 9, 0, tzinfo=timezone.utc)
def request(minute, cost):
    return UsageRecord(
        time=at + timedelta(minutes=minute), notebook="math.ipynb", session="default", origin="cell", cell=minute,
        model_requested="deepseek-v4-flash", model_answered="deepseek-v4-flash", protocol="openai",
        prompt_tokens=1200, cache_hit_tokens=0, cache_miss_tokens=1200, completion_tokens=300, reasoning_tokens=0,
        cost=Decimal(cost), ttft=0.3, elapsed=2.0, outcome="ok", error=None)
UsageRows([request(0, "0.0004"), request(3, "0.0012"), request(9, "0.0007")], title="Usage of math.ipynb")
"""

_JS_MATH = """() => {
  const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
  const cells = [...nb.querySelectorAll('.jp-Cell')];
  return cells.map(c => ({
    math: c.querySelectorAll('mjx-container, .MathJax').length,
    outputs: [...c.querySelectorAll('.jp-OutputArea-output')].map(o => o.innerText),
  }));
}"""

_JS_SVG_TEXT = """cell => [...cell.querySelectorAll('svg.evo-spend-chart title, svg.evo-spend-chart text')]
  .map(e => e.textContent)"""

# Colours of highlighted tokens and how they stand out from the code block's background.
_JS_CODE_COLOURS = """answer => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const contrast = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const background = el => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length >= 3 && (c.length < 4 || c[3] > 0.5)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const code = answer.querySelector('pre code.evo-hl');
  if (!code) return null;
  const plain = rgb(getComputedStyle(code).color);
  const out = {plain: plain, tokens: {}};
  for (const span of code.querySelectorAll('span[class^="hl-"]')) {
    const name = span.className;
    if (out.tokens[name]) continue;
    const colour = rgb(getComputedStyle(span).color);
    out.tokens[name] = {text: span.textContent, colour,
                        contrast: contrast(colour, background(span)), differs: colour.join() !== plain.join()};
  }
  return out;
}"""


def _run(ui: UI, name: str, cells: list[str]) -> Any:
    n = harness.write_notebook(ui.lab.root / name, cells)
    harness.open_notebook(ui.page, ui.lab, name, n)
    ui.timings["run_all"] = round(harness.run_all(ui.page, ui.lab), 2)
    return ui.page


def test_dollars_are_never_typeset_as_math(ui: UI) -> None:
    """An answer, its footer, the usage chart and a notice with "$…$" show their dollars as
    written, while MathJax is demonstrably active on the page (control cells are typeset)."""
    started = time.monotonic()
    page = _run(
        ui,
        "math.ipynb",
        [
            "%load_ext evo_magic",
            "%deepseek offline --rate 5000",
            f"%%deepseek --no-think\n{QUESTION}",
            USAGE_CELL,
            "from IPython.display import HTML\nHTML('<p>control: $y^2$ is typeset</p>')",
            "%deepseek help",
        ],
    )
    # MathJax is loaded on first use: wait until the control output is typeset, so a missing
    # typeset of ours below means "skipped", not "not yet".
    harness.wait_until(page, lambda: page.evaluate(_JS_MATH)[4]["math"] > 0, "MathJax to typeset the control")
    page.wait_for_timeout(1500)
    cells = page.evaluate(_JS_MATH)
    ui.screenshot("notebook.png")
    for index in (1, 2, 3, 5):
        assert cells[index]["math"] == 0, (index, cells[index])

    answer = harness.cell(page, 2).locator(".evo-answer").inner_text()
    assert "$5 and $10" in answer, answer[:500]
    footer = harness.cell(page, 2).locator(".evo-footer").inner_text()
    assert "$" in footer and "if billed (emulator)" in footer, footer
    texts = harness.cell(page, 3).evaluate(_JS_SVG_TEXT)
    assert "$0.0023" in texts and "$0.00" in texts, texts
    tips = [t for t in texts if "(total $" in t]
    assert len(tips) == 3 and all(t.count("$") == 2 for t in tips), texts
    assert "Total: $0.0023" in cells[3]["outputs"][0], cells[3]["outputs"]

    # %deepseek help keeps its layout: one line per option, columns aligned
    help_lines = cells[5]["outputs"][0].splitlines()
    assert len(help_lines) > 50, help_lines[:5]
    assert any(line.startswith("  -s NAME") and "use the named session" in line for line in help_lines), help_lines

    assert harness.problems(page) == {"widget_errors": [], "error_outputs": []}
    assert ui.page_errors == [] and ui.blocked == []
    ui.timings["total"] = round(time.monotonic() - started, 2)


def _check_colours(found: dict[str, Any] | None, theme: str) -> None:
    assert found is not None, f"{theme}: no highlighted code block in the answer"
    tokens = found["tokens"]
    kinds = {"keyword": ("hl-k", "hl-kn"), "string": ("hl-s1", "hl-s2", "hl-sd"), "number": ("hl-mi",), "builtin": ("hl-nb",)}
    for kind, classes in kinds.items():
        seen = [tokens[c] for c in classes if c in tokens]
        assert seen, f"{theme}: no {kind} token in {sorted(tokens)}"
        for token in seen:
            assert token["differs"], f"{theme}: {kind} {token} has the plain text colour"
            assert token["contrast"] >= 3.0, f"{theme}: {kind} {token} does not stand out from its background"


def test_code_blocks_are_highlighted_and_readable_in_light_and_dark(ui: UI) -> None:
    page = _run(ui, "code.ipynb", ["%load_ext evo_magic", "%deepseek offline --rate 5000",
                                   "%%deepseek --no-think\nShow a short Python example of a mean"])  # fmt: skip
    answer = harness.cell(page, 2).locator(".evo-answer")
    assert answer.locator("pre code.language-python.evo-hl span.hl-k").count() >= 1, answer.inner_html()[:800]
    _check_colours(answer.evaluate(_JS_CODE_COLOURS), "light")
    answer.locator("pre").first.scroll_into_view_if_needed()
    ui.screenshot("light.png")
    try:
        harness.set_theme(page, "JupyterLab Dark", light=False)
        _check_colours(answer.evaluate(_JS_CODE_COLOURS), "dark")
        ui.screenshot("dark.png")
    finally:
        harness.set_theme(page, "JupyterLab Light", light=True)  # the theme is a user setting: leave it as found
    assert ui.page_errors == [] and ui.blocked == []
