"""Notebook test helpers."""

from __future__ import annotations

from typing import Any

from IPython.core.interactiveshell import InteractiveShell


def magics_of(shell: InteractiveShell) -> Any:
    return next(c for c in shell.configurables if type(c).__name__ == "DeepSeekMagics")
