"""The warm-up after %load_ext: the first answer does not wait for the heavy imports."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from evo_magic.notebook import warmup

ROOT = Path(__file__).resolve().parents[2]


def test_load_ext_returns_at_once_and_a_daemon_thread_imports_what_the_first_answer_needs() -> None:
    code = (
        "import sys, threading\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "ip = InteractiveShell.instance()\n"
        "ip.extension_manager.load_extension('evo_magic')\n"
        "warm = [t for t in threading.enumerate() if t.name == 'evo-magic-warm-up']\n"
        "print(len(warm), all(t.daemon for t in warm))\n"
        "[t.join(30) for t in warm]\n"
        "print(' '.join(m for m in ('httpx', 'httpx_sse', 'httpcore', 'markdown_it', 'sqlite3', 'pygments.lexers.python',"
        " 'evo_magic.transport', 'anywidget') if m in sys.modules))\n"
        "from evo_magic.transport import tls_context\n"
        "print(tls_context.cache_info().currsize)\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "EVO_MAGIC_WARMUP"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT, env=env)
    started, imported, tls = out.stdout.splitlines()
    assert started == "1 True" and tls == "1"  # the CA bundle is loaded too
    # a terminal IPython: no widget to warm up
    want = ["httpx", "httpx_sse", "httpcore", "markdown_it", "sqlite3", "pygments.lexers.python", "evo_magic.transport"]
    assert imported.split() == want


@pytest.mark.parametrize("value", ["0", "off", "false", "no", " OFF "])
def test_evo_magic_warmup_0_keeps_every_import_to_first_use(value: str) -> None:
    assert warmup.start({"EVO_MAGIC_WARMUP": value}, "text") is None


def test_a_warm_up_import_that_fails_is_only_a_debug_line(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="evo_magic.notebook.warmup"):
        warmup.warm_up(("evo_magic_no_such_module",))
    assert [r.levelno for r in caplog.records] == [logging.DEBUG]
    assert "evo_magic_no_such_module" in caplog.records[0].getMessage()


def test_a_kernel_warms_the_widget_too_and_no_ipython_nothing() -> None:
    assert "anywidget" in warmup.modules("widget") and "anywidget" not in warmup.modules("text")
    assert warmup.start({}, "none") is None
