"""The front-end files shipped inside the package (JavaScript and CSS), read in one place.

Each file lives beside the module that uses it: ``display/live.js``, ``display/live.css``,
``panel/panel.js``, ``panel/panel.css``. Names are paths relative to the package.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent


def asset_path(name: str) -> Path:
    """The file ``name`` (e.g. ``"display/live.js"``) of the installed package."""
    return PACKAGE / name


@cache
def asset_text(name: str) -> str:
    """The text of the asset ``name``, read once per process."""
    return asset_path(name).read_text(encoding="utf-8")


__all__ = ["asset_path", "asset_text"]
