"""An answer from the cache in real JupyterLab, light and dark: it renders as the original did
(answer, folded thinking) and its footer says ``cached · $0 (saved …)``, readable in both themes."""

from __future__ import annotations

import re
import time

import pytest

from . import harness
from .conftest import UI
from .test_panel_session import _JS_CONTRAST, THEME

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(harness.missing() is not None, reason=str(harness.missing())),
]

SETUP = """import os
from evo_magic.emulator import Emulator
emulator = Emulator(tokens_per_second=None).start()  # a gateway of its own: its answers are kept
os.environ.update(EVOLINK_BASE_URL=emulator.url, EVOLINK_API_KEY="sk-browser-cache-0000")"""


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_a_cached_answer_renders_as_the_original_with_its_footer(ui: UI, theme: str) -> None:
    started = time.monotonic()
    settings = ui.lab.state / "settings" / THEME[0] / THEME[1] / THEME[2]
    if theme == "dark":
        settings.write_text('{"theme": "JupyterLab Dark"}')
    try:
        prompt = f"Explain what a p-value is ({theme} theme), with a short Python example"
        name = f"cache_{theme}.ipynb"
        cells = ["%load_ext evo_magic", SETUP, "%deepseek cache on", f"%%deepseek --think\n{prompt}",
                 f"%%deepseek --think --new\n{prompt}"]  # fmt: skip
        harness.open_notebook(ui.page, ui.lab, name, harness.write_notebook(ui.lab.root / name, cells))
        light = ui.page.evaluate("() => document.body.dataset.jpThemeLight")
        assert light == ("true" if theme == "light" else "false"), f"not the {theme} theme"
        ui.timings["run_all"] = round(harness.run_all(ui.page, ui.lab), 2)
        asked, cached = (harness.cell(ui.page, i).locator(".jp-Cell-outputArea") for i in (3, 4))
        assert cached.locator(".evo-answer").inner_text() == asked.locator(".evo-answer").inner_text()
        assert cached.locator("details.evo-thinking").evaluate("d => d.open") is False
        footer = cached.locator(".evo-footer").inner_text()
        assert re.fullmatch(r"deepseek-v4-flash · [\d,]+ in · [\d,]+ out \([\d,]+ reasoning\) · cached · "
                            r"\$0 \(saved (<)?\$0\.\d+\)", footer), footer  # fmt: skip
        assert " cached · " not in asked.locator(".evo-footer").inner_text()
        ratio = cached.locator(".evo-footer").evaluate(_JS_CONTRAST)
        assert ratio >= 3.0, f"the footer's contrast is {ratio:.2f} in the {theme} theme"
        assert harness.problems(ui.page) == {"widget_errors": [], "error_outputs": []}
        assert ui.page_errors == [] and ui.blocked == []
        ui.screenshot(f"cached_{theme}.png")
        cached.locator("details.evo-thinking > summary").click()
        ui.screenshot(f"cached_{theme}_thinking_open.png")
    finally:
        if theme == "dark":
            settings.unlink()
    ui.timings["total"] = round(time.monotonic() - started, 2)
