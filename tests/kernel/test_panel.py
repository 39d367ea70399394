"""In a real kernel: the chat panel streams in a background thread (``evo_magic.panels.panel``)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from ..panels.helpers import LONG
from .harness import Kernel

NOTEBOOK = "/work/panel.ipynb"


@pytest.mark.kernel
def test_panel_streams_in_a_background_thread_of_a_real_kernel(tmp_path: Any) -> None:
    k = Kernel({"EVO_MAGIC_HOME": str(tmp_path / "home"), "JPY_SESSION_NAME": NOTEBOOK})
    try:
        assert k.execute("%load_ext evo_magic\n%deepseek offline --rate 150").ok
        assert k.execute(f"import evo_magic\np = evo_magic.panel()\np.send({LONG!r})").ok
        started = time.monotonic()
        quick = k.execute("1+1")
        took = time.monotonic() - started
        assert quick.text().strip().endswith("2") and took < 1.0, took
        assert k.execute("print(p.busy)").text().strip() == "True"
        assert k.execute("p.stop(); p.wait(5); print(p.rows[-1]['status'], p.busy)").text().split() == [
            "stopped",
            "False",
        ]
        assert k.execute("p.send('What is 2+2?', wait=True)\nprint(evo_magic.session().turns[-1].reply.text)").ok
        out = k.execute("%%deepseek\nAnd 3+3?")
        assert out.ok
        prompts = k.execute("print([r['prompt'] for r in p.rows])").text()
        assert "What is 2+2?" in prompts and "And 3+3?" in prompts
    finally:
        k.close()
