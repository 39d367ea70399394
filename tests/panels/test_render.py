"""Tests of ``evo_magic.panels.render``."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import pytest

from evo_magic.core.events import Finished, TextDelta
from evo_magic.core.snapshot import accumulate
from evo_magic.display.render import Footer
from evo_magic.panels.render import snapshot_html

from ..display.helpers import DOLLARS, PYTHON, assert_skipped_by_mathjax, dollars_reply


def test_the_panel_and_its_saved_snapshot_show_code_highlighted() -> None:
    from types import SimpleNamespace

    from evo_magic.panels.render import entry_html, snapshot_html

    snap = accumulate([TextDelta(PYTHON), Finished("stop")])
    reply = SimpleNamespace(snapshot=snap, footer=Footer("m", None, 1.0, None, None), rounds=[], tool_calls=[], thinking_open=False)
    turn = SimpleNamespace(prompt="code?", reply=reply, messages=[])
    for markup in (entry_html(turn), snapshot_html([turn], "default", 1, "This notebook: $0.00")):
        assert '<code class="language-python evo-hl"><span class="hl-kn">import</span>' in markup
        assert ".evo-hl :is(" in markup


MATH_OUTPUTS: dict[str, Callable[[], str]] = {
    "panel snapshot": lambda: snapshot_html(
        [SimpleNamespace(prompt=DOLLARS, reply=dollars_reply(), messages=[])], "default", 1, "This notebook: $0.0012"
    ),
}


@pytest.mark.parametrize("name", list(MATH_OUTPUTS))
def test_every_html_output_is_skipped_by_mathjax(name: str) -> None:
    assert_skipped_by_mathjax(name, MATH_OUTPUTS[name]())


def test_a_continued_answer_shows_once_whole_with_no_cut_banner(emulator: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """A turn continued with %deepseek continue is one answer in the panel: the whole text,
    once, without the cut answer's "no answer" banner (its requests still count in the usage)."""
    import evo_magic
    from evo_magic.panels.render import entry_html

    from ..conftest import use_emulator

    use_emulator(monkeypatch, emulator.url, "/work/panel-continue.ipynb")  # type: ignore[attr-defined]
    s = evo_magic.session()
    cut = s.ask("Explain window functions", max_tokens=20)
    assert "no answer" in entry_html(s.turns[0])
    done = s.continue_(max_tokens=4000)
    markup = entry_html(s.turns[0])
    assert markup.count('class="evo-footer"') == 1 and "no answer" not in markup
    assert markup.count("Explain window functions") >= 1 and "Continued an answer cut at max_tokens" in markup
    assert s.usage.completion_tokens == cut.usage.completion_tokens + done.usage.completion_tokens
