"""The kernel's one root object: :class:`Runtime`.

It owns everything that lives as long as the kernel — the sessions (:attr:`registry`), the
kernel-wide defaults, the accounting (ledger, prices, budget), where requests go (the bundled
emulator while offline) and the state of the surfaces (the chat panels, lingering live views)
— and it is the :class:`~evo_magic.sessions.host.Host` every session talks to: it hands a
session the endpoint and a transport, runs the accounting's guards and hooks, and passes the
session events on to the accounting and to every subscriber.

There is one per process, made on first use by :func:`root`; nothing else in the package keeps
state in a module global (the secrets to mask, :mod:`evo_magic.errors`, are the one deliberate
exception: a key once read is masked everywhere for the life of the process). Tests start
each from a fresh root with :func:`reset_root`.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from . import config
from .config import TransportSettings
from .ledger.accounting import Accounting
from .sessions.host import Charge, Defaults, SessionEvent, SessionRef
from .sessions.registry import Registry

if TYPE_CHECKING:
    from .display.notices import Notice
    from .sessions.cache import CacheMode, Hit
    from .sessions.reply import Reply
    from .transport import Transport

log = logging.getLogger(__name__)

Listener = Callable[[SessionEvent], None]


class Part(Protocol):
    """Kernel state a surface keeps in the root (the panels' shared state, the emulator),
    made by :meth:`Runtime.part` and closed with the root."""

    def close(self) -> None: ...


P = TypeVar("P", bound=Part)


class Runtime:
    """The kernel's root (see the module doc). ``user_ns`` names the notebook in VS Code;
    ``show`` displays a notice in the running cell."""

    def __init__(
        self, user_ns: Mapping[str, Any] | None = None, show: Callable[[Notice], object] | None = None
    ) -> None:
        self._defaults = Defaults()
        self.offline: config.Endpoint | None = None  # the emulator's endpoint while offline
        self.notes: tuple[str, ...] = ()  # what resolving the endpoint last had to say (a .env ignored)
        self.listeners: list[Listener] = []
        self.transport_options: dict[str, Any] = {}  # for Transport(): tests inject a mock
        self.accounting = Accounting(user_ns, show, self.emit)
        self.registry = Registry(self)
        self._parts: dict[Callable[[Runtime], Part], Part] = {}

    # --- settings -----------------------------------------------------------------------
    @property
    def defaults(self) -> Defaults:
        return self._defaults

    def set_default(self, name: str, value: Any) -> None:
        """Set one kernel default (a request option, transport setting or loop bound)."""
        self._defaults = self._defaults.with_value(name, value)

    # --- the host of every session ------------------------------------------------------
    def endpoint(self) -> config.Endpoint:
        """Where requests go now: the bundled emulator while offline, else the environment's
        or the ``.env`` file's settings."""
        if self.offline is not None:
            return self.offline
        endpoint = config.resolve()
        self.notes = endpoint.notes
        return endpoint

    def transport(self, endpoint: config.Endpoint, settings: TransportSettings) -> Transport:
        from .transport import Transport  # httpx: imported with the first request

        return Transport(endpoint, settings, **self.transport_options)

    def check(self, session: SessionRef, reply: Reply, body: Mapping[str, Any]) -> None:
        self.accounting.check(session, reply, body)

    def cache_mode(self, override: str | None) -> CacheMode:
        return self.accounting.cache_mode(override)

    def cached(self, session: SessionRef, reply: Reply) -> Hit | None:
        return self.accounting.cached(session, reply)

    def keep(self, session: SessionRef, reply: Reply) -> None:
        self.accounting.keep(session, reply)

    def start(self, session: SessionRef, reply: Reply) -> int | None:
        return self.accounting.start(session, reply)

    def settle(self, session: SessionRef, reply: Reply) -> Charge:
        return self.accounting.settle(session, reply)

    def emit(self, event: SessionEvent) -> None:
        """Hand ``event`` to the accounting, then to every listener; a broken listener is
        logged and never breaks the answer."""
        for listener in [self.accounting.on_event, *self.listeners]:
            try:
                listener(event)
            except Exception:
                log.exception("session listener %r failed on %s", listener, type(event).__name__)

    # --- the surfaces' state ------------------------------------------------------------
    def part(self, kind: Callable[[Runtime], P]) -> P:
        """The kernel's one ``kind`` (made from this root on first use)."""
        found = self._parts.get(kind)
        if found is None:
            made = self._parts[kind] = kind(self)
            return made
        return cast(P, found)

    def close(self) -> None:
        """Release what the kernel holds: the surfaces' state, the sessions' connections, the ledger."""
        for part in list(self._parts.values()):
            try:
                part.close()
            except Exception:
                log.debug("closing %r failed", part, exc_info=True)
        self._parts.clear()
        self.registry.close()
        self.accounting.close()


_root: Runtime | None = None


def root() -> Runtime:
    """The kernel's runtime, made on first use. Made outside ``%load_ext`` (the Python API),
    it still records every request; the shell's namespace, when there is one, names the
    notebook (VS Code)."""
    global _root
    if _root is None:
        _root = Runtime(_shell_namespace())
    return _root


def reset_root() -> None:
    """Close the kernel's runtime and forget it: the next :func:`root` starts afresh (tests)."""
    global _root
    if _root is not None:
        _root.close()
    _root = None


def _shell_namespace() -> Mapping[str, Any] | None:
    if "IPython" not in sys.modules:
        return None
    from IPython import get_ipython

    shell = get_ipython()
    return None if shell is None else shell.user_ns


__all__ = ["Listener", "Part", "Runtime", "reset_root", "root"]
