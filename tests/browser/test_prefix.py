"""What a reader sees of a FIM answer and of a continued answer in real JupyterLab, in the light
and the dark theme: the filled part of the code visibly marked, the cut answer's words, the
continued answer whole.

Screenshots in ``test-output/<test name>/``: ``light.png``, ``dark.png``.
"""

from __future__ import annotations

from typing import Any

import pytest

from . import harness
from .conftest import UI

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(harness.missing() is not None, reason=str(harness.missing())),
]

CELLS = [
    "%load_ext evo_magic",
    "%deepseek offline --rate 5000",
    "%%deepseek --fim\ndef mean(xs):\n    <FILL>\n    return total / count",
    "%%deepseek --max-tokens 20\nExplain window functions",
    "%deepseek continue --max-tokens 4000",
]

# The marks of the fill: their text, and how their background stands out from the code block's.
_JS_MARKS = """cell => {
  const rgba = s => { const v = (s.match(/[\\d.]+/g) || []).map(Number); return v.length === 3 ? [...v, 1] : v; };
  const pre = cell.querySelector('pre.evo-fim');
  const marks = [...cell.querySelectorAll('pre.evo-fim mark.evo-fill')];
  return {
    pre: pre ? getComputedStyle(pre).backgroundColor : null,
    code_bg: pre ? getComputedStyle(pre.querySelector('code')).backgroundColor : null,
    text: marks.map(m => m.textContent).join(''),
    code: pre ? pre.textContent : '',
    alpha: marks.map(m => rgba(getComputedStyle(m).backgroundColor)[3]),
    colours: marks.map(m => getComputedStyle(m).backgroundColor),
    text_colour: marks.length ? getComputedStyle(marks[0].querySelector('span') || marks[0]).color : null,
  };
}"""


# The banner's text against what is behind it (translucent backgrounds composited, outwards).
_JS_BANNER_CONTRAST = """cell => {
  const banner = cell.querySelector('.evo-banner');
  if (!banner) return null;
  const rgba = s => { const v = (s.match(/[\\d.]+/g) || []).map(Number); return v.length === 3 ? [...v, 1] : v; };
  const layers = [];
  for (let e = banner; e; e = e.parentElement) {
    const c = rgba(getComputedStyle(e).backgroundColor);
    if (c.length === 4 && c[3] > 0) layers.push(c);
    if (c[3] === 1) break;
  }
  let under = [255, 255, 255];
  for (const [r, g, b, a] of layers.reverse()) under = [r * a + under[0] * (1 - a), g * a + under[1] * (1 - a), b * a + under[2] * (1 - a)];
  const lum = ([r, g, b]) => {
    const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const text = rgba(getComputedStyle(banner).color);
  const [x, y] = [lum(text), lum(under)].sort((p, q) => q - p);
  return {contrast: (x + 0.05) / (y + 0.05), text: getComputedStyle(banner).color, under};
}"""


def _check_banner(found: dict[str, Any] | None, theme: str) -> None:
    assert found is not None, f"{theme}: the cut answer has no banner"
    assert found["contrast"] >= 4.5, f"{theme}: the banner's words do not read on its background: {found}"


def _check_marks(found: dict[str, Any], theme: str) -> None:
    assert found["pre"] is not None, f"{theme}: no completed code shown"
    assert "total = sum(xs)" in found["text"] and found["text"] in found["code"], (theme, found)
    assert found["alpha"] and min(found["alpha"]) >= 0.2, f"{theme}: the fill is not visibly marked: {found}"
    assert set(found["colours"]) != {found["pre"]}, (theme, found)
    # the lines around the fill lie on the block's own colour (dark: they sat on black boxes)
    assert found["code_bg"] == "rgba(0, 0, 0, 0)", f"{theme}: the code has a background of its own: {found}"


def test_the_fill_is_marked_and_a_continued_answer_reads_whole_in_light_and_dark(ui: UI) -> None:
    n = harness.write_notebook(ui.lab.root / "prefix.ipynb", CELLS)
    harness.open_notebook(ui.page, ui.lab, "prefix.ipynb", n)
    ui.timings["run_all"] = round(harness.run_all(ui.page, ui.lab), 2)
    page = ui.page
    fim, cut, continued = harness.cell(page, 2), harness.cell(page, 3), harness.cell(page, 4)
    assert "Filled in the middle: " in fim.inner_text()
    assert "no answer: all 20 tokens went to thinking — %deepseek continue, or raise --max-tokens" in cut.inner_text()
    words = continued.inner_text()
    assert "Continued an answer cut at max_tokens while thinking" in words and "no answer" not in words
    assert continued.locator(".evo-answer").count() == 1 and continued.locator(".evo-answer").inner_text().strip()
    _check_marks(fim.evaluate(_JS_MARKS), "light")
    _check_banner(cut.evaluate(_JS_BANNER_CONTRAST), "light")
    fim.scroll_into_view_if_needed()
    ui.screenshot("light.png")
    try:
        harness.set_theme(page, "JupyterLab Dark", light=False)
        _check_marks(fim.evaluate(_JS_MARKS), "dark")
        _check_banner(cut.evaluate(_JS_BANNER_CONTRAST), "dark")
        _check_banner(continued.evaluate(_JS_BANNER_CONTRAST), "dark")
        ui.screenshot("dark.png")
    finally:
        harness.set_theme(page, "JupyterLab Light", light=True)  # the theme is a user setting: leave it as found
    assert harness.problems(page) == {"widget_errors": [], "error_outputs": []}
    assert ui.page_errors == [] and ui.blocked == []
