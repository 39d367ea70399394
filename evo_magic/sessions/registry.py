"""The kernel's sessions: the default one plus named ones, all on one host."""

from __future__ import annotations

from typing import Any

from ..errors import OptionError
from .host import Host, SessionCreated
from .session import Session

DEFAULT_SESSION = "default"


class Registry:
    """Sessions by name. The default session always exists; named ones are created by
    :meth:`get` (asking, a panel, a restore) and looked up without creating by :meth:`find`."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.sessions: dict[str, Session] = {}

    def get(self, name: str | None = None, **settings: Any) -> Session:
        """The session ``name`` (default: the default session), created on first use;
        ``settings`` configure it (:meth:`~evo_magic.sessions.session.Session.configure`)."""
        name = name or DEFAULT_SESSION
        found = self.sessions.get(name)
        if found is None:
            found = self.sessions[name] = Session(name, self.host, **settings)
            self.host.emit(SessionCreated(found))
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

    def close(self) -> None:
        for session in self.sessions.values():
            session.close()


__all__ = ["DEFAULT_SESSION", "Registry"]
