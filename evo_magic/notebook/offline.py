"""``%deepseek offline``: route this kernel to the bundled EvoLink emulator.

The emulator runs once per kernel, as a part of the kernel's root
(:class:`Offline`, ``runtime.part(Offline)``); going offline sets the root's endpoint to it,
going online clears that endpoint and leaves the emulator running idle.
"""

from __future__ import annotations

import atexit
from typing import TYPE_CHECKING, Any

from .. import config
from ..display.notices import Notice
from ..errors import ConfigError

if TYPE_CHECKING:
    from ..runtime import Runtime

OFFLINE_KEY = "evo-magic-offline-emulator"


class Offline:
    """The kernel's bundled emulator, started on first use and stopped with the kernel."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.emulator: Any = None  # an evo_magic.emulator.Emulator once started
        self._owned = False  # started here, so stopped here

    def adopt(self, emulator: Any) -> None:
        """Route to an emulator that runs already (one shared by many tests); it is never
        stopped from here."""
        self.close()
        self.emulator, self._owned = emulator, False

    def start(self, rate: float | None) -> Any:
        """The running emulator, paced at ``rate`` tokens per second (None: unthrottled)."""
        if self.emulator is None:
            from ..emulator import Emulator

            self.emulator = Emulator(tokens_per_second=rate)
            self.emulator.start()
            self._owned = True
            atexit.register(self.close)
        else:
            self.emulator.pace(rate)  # a new --rate applies to the running emulator
        return self.emulator

    def close(self) -> None:
        emulator, self.emulator = self.emulator, None
        if emulator is not None and self._owned:
            emulator.stop()


def go_offline(runtime: Runtime, rate: float | None = 60.0, *, if_no_key: bool = False) -> Notice:
    """Start the emulator (once) and send every request of this kernel to it.

    ``if_no_key``: stay online when an API key is configured (the quickstart uses this).
    """
    if rate is not None and not 0 < rate < float("inf"):
        raise ConfigError(f"the emulator's rate must be a positive number of tokens per second, not {rate:g}")
    runtime.offline = None
    online = runtime.endpoint()
    if if_no_key and online.key is not None:
        return Notice(
            f"Using EvoLink at {config.shown_url(online.base_urls[0])} with key {online.key.masked}.",
            title="Online",
        )
    emulator = runtime.part(Offline).start(rate)
    runtime.offline = config.Endpoint((emulator.url,), config.Secret(OFFLINE_KEY), offline=True)
    reason = "no EVOLINK_API_KEY is set, so " if if_no_key else ""
    return Notice(
        f"{reason}answers come from the bundled EvoLink emulator at {emulator.url}"
        f"{'' if rate is None else f' ({rate:g} tokens/s)'}: "
        "canned, deterministic text, not DeepSeek. %deepseek offline --off goes back online.",
        kind="offline",
        title="Offline",
        code=["%deepseek offline --off"],
    )


def go_online(runtime: Runtime) -> Notice:
    was_offline = runtime.offline is not None
    runtime.offline = None
    try:
        where = ", ".join(config.shown_url(u) for u in runtime.endpoint().base_urls)
    except ConfigError:  # a bad EVOLINK_BASE_URL: the next request says what is wrong
        where = "EvoLink"
    if not was_offline:
        return Notice(f"Already online: requests go to {where}.", title="Online")
    return Notice(f"Requests go to {where} again (the emulator keeps running idle).", title="Online")


__all__ = ["OFFLINE_KEY", "Offline", "go_offline", "go_online"]
