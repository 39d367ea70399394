"""``%deepseek offline``: route this kernel to the bundled EvoLink emulator."""

from __future__ import annotations

import atexit
from typing import Any

from . import config
from .notices import Notice

OFFLINE_KEY = "evo-magic-offline-emulator"
_emulator: Any = None


def go_offline(rate: float | None = 60.0, *, if_no_key: bool = False) -> Notice:
    """Start the emulator (once) and send every request of this process to it.

    ``if_no_key``: stay online when an API key is configured (the quickstart uses this).
    """
    global _emulator
    config.set_offline(None)
    online = config.resolve()
    if if_no_key and online.key is not None:
        return Notice(
            f"Using EvoLink at {online.base_urls[0]} with key {online.key.masked}.",
            title="Online",
        )
    if _emulator is None:
        from .emulator import Emulator

        _emulator = Emulator(tokens_per_second=rate)
        _emulator.start()
        atexit.register(_stop)
    endpoint = config.Endpoint((_emulator.url,), config.Secret(OFFLINE_KEY), offline=True)
    config.set_offline(endpoint)
    reason = "no EVOLINK_API_KEY is set, so " if if_no_key else ""
    return Notice(
        f"{reason}answers come from the bundled EvoLink emulator at {_emulator.url}: "
        "canned, deterministic text, not DeepSeek. `%deepseek offline --off` goes back online.",
        kind="offline",
        title="Offline",
    )


def go_online() -> Notice:
    config.set_offline(None)
    return Notice("Requests go to EvoLink again (the emulator keeps running idle).", title="Online")


def _stop() -> None:
    global _emulator
    if _emulator is not None:
        try:
            _emulator.stop()
        finally:
            _emulator = None
