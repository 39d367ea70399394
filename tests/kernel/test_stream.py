"""In a real kernel, over loopback to the emulator: a proxy that cuts the answer at UTF-16
boundaries and makes the model repeat the API key. The notebook gets the text whole and the
key masked: the live widget, the final HTML a saved notebook keeps, -o, the history and the
ledger, on both protocols."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from .harness import Kernel

pytestmark = pytest.mark.kernel

KEY = "evlk_KERNEL5f4e3d2c1b0a"
SAID = f"A😀B {KEY} "


@pytest.fixture
def setup() -> Iterator[tuple[Any, Kernel]]:
    from evo_magic.emulator import Emulator

    with Emulator(tokens_per_second=None) as emu:
        k = Kernel({"EVOLINK_API_KEY": KEY, "EVOLINK_BASE_URL": emu.url, "JPY_SESSION_NAME": "/work/said.ipynb"})
        try:
            assert k.execute("%load_ext evo_magic").ok
            yield emu, k
        finally:
            k.close()


def test_split_pairs_and_the_key_said_by_the_model_reach_the_notebook_whole_and_masked(
    setup: tuple[Any, Kernel],
) -> None:
    emu, kernel = setup
    for protocol in ("openai", "anthropic"):
        emu.fail_next("say", text=SAID)
        ex = kernel.execute(f"%%deepseek --protocol {protocol} -o r\nWhat is 2+2?")
        assert ex.ok, ex.error_text
        assert ex.of_type("comm_open"), "the live widget streamed the answer"
        assert KEY not in json.dumps(ex.messages, ensure_ascii=False, default=str)  # widget, displays, final HTML
        html = ex.final_html()
        assert "A😀B" in html and "1b0a" in html and "Waiting" not in html
        shown = kernel.execute("print(repr(r.text[:12]), repr(r.reasoning[:12]), r.status)")
        assert shown.ok and "'A😀B ****1b0a' 'A😀B ****1b0a' ok" in shown.text(), shown.text()
    history = kernel.execute("%deepseek history")
    stored = kernel.execute(
        "from evo_magic.runtime import root\n"
        "import json\n"
        "turns = root().accounting.ledger.turns(root().accounting.notebook, 'default')\n"
        "print(len(turns), json.dumps([t.__dict__ for _, t in turns], ensure_ascii=False))"
    )
    assert stored.ok, stored.error_text
    assert stored.text().startswith("2 ") and stored.text().count("A😀B ****1b0a") >= 4  # answer and thinking, twice
    for ex in (history, stored):
        assert KEY not in json.dumps(ex.messages, ensure_ascii=False, default=str)
