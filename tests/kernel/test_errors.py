"""In a real kernel: verbose tracebacks never show the API key (``evo_magic.errors``)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .harness import Kernel


@pytest.mark.kernel
def test_verbose_tracebacks_in_a_kernel_never_show_the_key(emulator: Any, tmp_path: Any) -> None:
    key = "sk-KERNEL-VERBOSE-77aa88bb"
    k = Kernel(
        {
            "EVOLINK_API_KEY": key,
            "EVOLINK_BASE_URL": emulator.url,
            "EVO_MAGIC_HOME": str(tmp_path / "home"),
            "JPY_SESSION_NAME": "/work/verbose.ipynb",
        }
    )
    try:
        assert k.execute("%load_ext evo_magic\n%xmode Verbose").ok
        broken = k.execute(
            "import httpx, evo_magic\n"
            "def boom(*a, **k):\n    raise ValueError('a bug below the transport')\n"
            "httpx.Client.send = boom\n"
            "evo_magic.session().ask('hi')"
        )
        assert not broken.ok and "could not be sent (ValueError: a bug below the transport)" in broken.error_text
        cell = k.execute("%%deepseek\nhi")
        assert not cell.ok and len(cell.error_text.strip().splitlines()) == 1
        everything = json.dumps([m["content"] for ex in (broken, cell) for m in ex.messages], default=str)
        assert key not in everything and "KERNEL-VERBOSE" not in everything
    finally:
        k.close()
