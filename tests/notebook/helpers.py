"""Notebook test helpers."""

from __future__ import annotations

from typing import Any

from IPython.core.interactiveshell import InteractiveShell


def magics_of(shell: InteractiveShell) -> Any:
    return next(c for c in shell.configurables if type(c).__name__ == "DeepSeekMagics")


def shown_text(captured: Any) -> str:
    """The text form of every output a cell displayed (``capture_output``), one after another."""
    return "\n---\n".join(o.data.get("text/plain", "") for o in captured.outputs)
