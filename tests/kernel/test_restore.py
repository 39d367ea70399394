"""In real kernels: ``%deepseek restore`` brings a conversation back after a restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .harness import Kernel

NOTEBOOK = "/work/restore.ipynb"


def test_restore_command_in_real_kernels(emulator: Any, tmp_path: Path) -> None:
    env = {
        "EVOLINK_API_KEY": "sk-restore-kernel-5555",
        "EVOLINK_BASE_URL": emulator.url,
        "EVO_MAGIC_HOME": str(tmp_path / "home"),
        "JPY_SESSION_NAME": NOTEBOOK,
    }
    k = Kernel(env)
    try:
        assert k.execute("%load_ext evo_magic").ok
        assert k.execute("%%deepseek --protocol anthropic --think\nWhat is 6*7?").ok
        assert k.execute("%%deepseek\nName a prime above 40.").ok
        before = k.execute("import evo_magic\nprint(repr([m.to_record() for m in evo_magic.session().history]))").text()
    finally:
        k.close()
    k = Kernel(env)
    try:
        assert k.execute("%load_ext evo_magic").ok
        out = k.execute("%deepseek restore")
        assert out.ok and "Restored 2 turns" in out.text(), out.text()
        after = k.execute("import evo_magic\nprint(repr([m.to_record() for m in evo_magic.session().history]))").text()
        assert after == before and "signature" in after  # Anthropic thinking signatures survive
        history = k.execute("%deepseek history").text()
        assert "6*7" in history and "prime" in history
        again = k.execute("%deepseek restore")
        assert "Nothing to restore" in again.text()
        bad = k.execute("%deepseek restore --sesion x")
        assert not bad.ok and len(bad.error_text.strip().splitlines()) == 1
        assert "sk-restore" not in out.text() + history
    finally:
        k.close()
