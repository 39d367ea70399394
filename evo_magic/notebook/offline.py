"""``%deepseek offline``: route this kernel to the bundled EvoLink emulator."""

from __future__ import annotations

import atexit
from typing import Any

from .. import config
from ..display.notices import Notice
from ..errors import ConfigError

OFFLINE_KEY = "evo-magic-offline-emulator"
_emulator: Any = None


def go_offline(rate: float | None = 60.0, *, if_no_key: bool = False) -> Notice:
    """Start the emulator (once) and send every request of this process to it.

    ``if_no_key``: stay online when an API key is configured (the quickstart uses this).
    """
    global _emulator
    if rate is not None and not 0 < rate < float("inf"):
        raise ConfigError(f"the emulator's rate must be a positive number of tokens per second, not {rate:g}")
    config.set_offline(None)
    online = config.resolve()
    if if_no_key and online.key is not None:
        return Notice(
            f"Using EvoLink at {config.shown_url(online.base_urls[0])} with key {online.key.masked}.",
            title="Online",
        )
    if _emulator is None:
        from ..emulator import Emulator

        _emulator = Emulator(tokens_per_second=rate)
        _emulator.start()
        atexit.register(_stop)
    else:
        _emulator.pace(rate)  # a new --rate applies to the running emulator
    endpoint = config.Endpoint((_emulator.url,), config.Secret(OFFLINE_KEY), offline=True)
    config.set_offline(endpoint)
    reason = "no EVOLINK_API_KEY is set, so " if if_no_key else ""
    return Notice(
        f"{reason}answers come from the bundled EvoLink emulator at {_emulator.url}"
        f"{'' if rate is None else f' ({rate:g} tokens/s)'}: "
        "canned, deterministic text, not DeepSeek. %deepseek offline --off goes back online.",
        kind="offline",
        title="Offline",
        code=["%deepseek offline --off"],
    )


def go_online() -> Notice:
    was_offline = config.offline_endpoint() is not None
    config.set_offline(None)
    try:
        where = ", ".join(config.shown_url(u) for u in config.resolve().base_urls)
    except config.ConfigError:  # a bad EVOLINK_BASE_URL: the next request says what is wrong
        where = "EvoLink"
    if not was_offline:
        return Notice(f"Already online: requests go to {where}.", title="Online")
    return Notice(f"Requests go to {where} again (the emulator keeps running idle).", title="Online")


def _stop() -> None:
    global _emulator
    if _emulator is not None:
        try:
            _emulator.stop()
        finally:
            _emulator = None
