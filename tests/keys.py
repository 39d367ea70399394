"""The keys and secrets the tests plant, and where they must never show (test helper)."""

from __future__ import annotations

import traceback

ENV_KEY = "sk-env-key-0123456789abcd"
ODD_KEY = "evlk_AUDIT9f8e7d6c5b4a"  # not shaped like sk-…: only remembering it masks it
OUTPUT_KEY = "evlk_OUTPUT7f6e5d4c3b2a"  # not shaped like sk-…: only remembering it masks it
MASKED = "****3b2a"  # OUTPUT_KEY as it is shown
PASTED = "sk-PASTED0a1b2c3d4e5f6a7b8c"  # the key, pasted into EVOLINK_BASE_URL
TOKEN = "Zq9Xw8Vu7Ts6Rq5Po4Nm3"  # a gateway token in a path: not sk-shaped, never remembered


def frames_and_locals(exc: BaseException, skip: int = 0) -> str:
    """The traceback as %xmode Verbose or a debugger would show it: every frame's locals."""
    tb = exc.__traceback__
    for _ in range(skip):
        tb = tb.tb_next if tb is not None else None
    return "".join(traceback.TracebackException(type(exc), exc, tb, capture_locals=True).format())


def home_text() -> str:
    """Every file under ``EVO_MAGIC_HOME`` (the ledger, its -wal and -shm) as text: where a
    secret must not be kept."""
    import os
    from pathlib import Path

    home = Path(os.environ["EVO_MAGIC_HOME"])
    return "".join(p.read_bytes().decode("latin-1") for p in sorted(home.rglob("*")) if p.is_file())
