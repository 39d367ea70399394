"""Panel test helpers."""

from __future__ import annotations

LONG = "Write an essay of 3000 words about sampling bias"
