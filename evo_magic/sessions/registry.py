"""The kernel's sessions and kernel-wide defaults: one default session plus named ones."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core.options import DEFAULT_MODEL, RequestOptions
from ..errors import OptionError
from .tools import DEFAULT_MAX_TOOL_CALLS

if TYPE_CHECKING:
    from ..transport import TransportSettings
    from .session import Session

log = logging.getLogger(__name__)

DEFAULT_SESSION = "default"
Listener = Callable[[str, "Session", Any], None]


@dataclass
class Defaults:
    """Kernel-wide defaults (``%config DeepSeekMagics.*`` writes these)."""

    model: str = DEFAULT_MODEL
    protocol: str = "openai"
    thinking: bool | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    connect_timeout: float = 10.0
    read_timeout: float = 180.0
    max_retries: int = 3
    max_tool_rounds: int = 8
    max_tool_calls: int = DEFAULT_MAX_TOOL_CALLS  # tool calls run per round
    extra_models: tuple[str, ...] = ()


class Registry:
    """The kernel's sessions: one default plus named ones, and kernel-wide defaults."""

    def __init__(self) -> None:
        self.defaults = Defaults()
        self.sessions: dict[str, Session] = {}
        self.listeners: list[Listener] = []
        # Guards run before every request and may refuse it by raising (e.g. the budget).
        self.guards: list[Callable[[Session, RequestOptions, dict[str, Any]], None]] = []
        self.transport_kwargs: dict[str, Any] = {}

    def get(self, name: str | None = None, **settings: Any) -> Session:
        name = name or DEFAULT_SESSION
        found = self.sessions.get(name)
        if found is None:
            from .session import Session

            found = self.sessions[name] = Session(name, self, **settings)
            self.notify("session", found, None)
        elif settings:
            found.configure(**settings)
        return found

    def find(self, name: str | None = None) -> Session:
        """The existing session ``name``: unlike :meth:`get`, a named session is never
        created (the default session always exists). Raises
        :class:`~evo_magic.errors.OptionError` naming the sessions there are."""
        name = name or DEFAULT_SESSION
        if name != DEFAULT_SESSION and name not in self.sessions:
            known = [DEFAULT_SESSION, *(n for n in self.sessions if n != DEFAULT_SESSION)]
            raise OptionError(f"no session {name!r}; sessions: {', '.join(known)}")
        return self.get(name)

    def transport_settings(self) -> TransportSettings:
        from ..transport import TransportSettings

        d = self.defaults
        return TransportSettings(d.connect_timeout, d.read_timeout, d.max_retries)

    def check(self, session: Session, opts: RequestOptions, body: dict[str, Any]) -> None:
        for guard in list(self.guards):
            guard(session, opts, body)

    def notify(self, kind: str, session: Session, payload: Any) -> None:
        """Tell listeners (ledger, panels) about ``kind``: "session" (created), "start" (a
        request passed the guards and is about to be sent; the Reply), "request" (every
        request once settled, any outcome, payload the Reply), "turn" (after a successful turn,
        the Reply), "pick" (another choice of the last turn became its answer; the Reply),
        "drop" (an undo, or a re-run cell replaced a turn; the Turn), "reset" (every turn
        forgotten) and "restore" (turns read back from the ledger; the list)."""
        for listener in list(self.listeners):
            try:
                listener(kind, session, payload)
            except Exception:  # a broken listener must not break the answer
                log.exception("session listener %r failed on %s", listener, kind)

    def close(self) -> None:
        for s in self.sessions.values():
            s.close()


_registry: Registry | None = None


def registry() -> Registry:
    global _registry
    if _registry is None:
        _registry = Registry()
    return _registry
