"""What a session needs from the kernel around it, and what it tells it.

A :class:`~evo_magic.sessions.session.Session` depends on nothing above its own layer: it is
given a :class:`Host` — the kernel's defaults, the endpoint in force, a transport, the guards
that may refuse a request, and the ledger's two hooks — and it reports what happened as typed
:data:`SessionEvent` values through :meth:`Host.emit`. The kernel's root object
(:class:`~evo_magic.runtime.Runtime`) is the host in a notebook; a test can pass its own.

The hooks return what they decide instead of changing the reply: :meth:`Host.start` returns
the ledger row of a request about to be sent, :meth:`Host.settle` its :class:`Charge`.
Listeners handle the events with ``match`` over the union and ``assert_never``, so a new
kind of event is a type error wherever it is not handled.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeAlias

from ..config import Endpoint, TransportSettings
from ..core.options import RequestOptions
from ..errors import OptionError
from .routes import Routes
from .tools import DEFAULT_MAX_TOOL_CALLS

if TYPE_CHECKING:
    from ..transport import Transport
    from .cache import CacheMode, Hit
    from .reply import Reply, Turn

DEFAULT_MAX_TOOL_ROUNDS = 8


@dataclass(frozen=True)
class LoopBounds:
    """How far one question's tool loop may go: rounds of calls, and calls run per round."""

    max_tool_rounds: int = DEFAULT_MAX_TOOL_ROUNDS
    max_tool_calls: int = DEFAULT_MAX_TOOL_CALLS

    def with_overrides(self, max_tool_rounds: int | None, max_tool_calls: int | None) -> LoopBounds:
        """These bounds with a call's overrides (None: keep), each at least 1 (0 rounds would
        drop the turn at the model's first call)."""
        bounds = LoopBounds(
            self.max_tool_rounds if max_tool_rounds is None else max_tool_rounds,
            self.max_tool_calls if max_tool_calls is None else max_tool_calls,
        )
        for name in ("max_tool_rounds", "max_tool_calls"):
            value = getattr(bounds, name)
            if value < 1:
                raise OptionError(f"{name} must be at least 1, not {value}")
        return bounds


@dataclass(frozen=True)
class Defaults:
    """The kernel-wide defaults every session starts from (``%config DeepSeekMagics.*``):
    the request options, the transport settings, the tool loop's bounds and the routes of the
    beta features. A session's options are ``request`` with the session's settings and then
    the call's overrides applied."""

    request: RequestOptions = field(default_factory=RequestOptions)
    transport: TransportSettings = field(default_factory=TransportSettings)
    loop: LoopBounds = field(default_factory=LoopBounds)
    routes: Routes = field(default_factory=Routes)

    def with_value(self, name: str, value: Any) -> Defaults:
        """These defaults with the field ``name`` of whichever part has it set to ``value``."""
        for part in ("request", "transport", "loop", "routes"):
            current = getattr(self, part)
            if name in {f.name for f in dataclasses.fields(current)}:
                return dataclasses.replace(self, **{part: dataclasses.replace(current, **{name: value})})
        raise OptionError(f"no kernel default named {name!r}")


class Charge(NamedTuple):
    """What settling a request costs: ``cost`` None when unknown; ``priced`` once the ledger
    tried (a None cost then reads "unknown", never $0). An answer from the cache costs 0 and
    ``saved`` what asking again would have cost; ``price_from`` is when the price-table entry
    used took effect; ``row`` is the ledger row written (an answer from the cache has no
    started row)."""

    cost: Decimal | None = None
    priced: bool = False
    saved: Decimal | None = None
    price_from: datetime | None = None
    row: int | None = None


# --- events ---------------------------------------------------------------------------------


class SessionRef(Protocol):
    """The session an event or a hook is about, as listeners see it (a
    :class:`~evo_magic.sessions.session.Session`: its name and its turns)."""

    name: str
    turns: list[Turn]



@dataclass(frozen=True)
class SessionCreated:
    session: SessionRef


@dataclass(frozen=True)
class RequestSettled:
    """A request ended, whatever its outcome; ``reply`` holds its charge."""

    session: SessionRef
    reply: Reply


@dataclass(frozen=True)
class TurnAdded:
    """A question and its answer joined the history (``replaced``: the turn of the same cell
    it took the place of, dropped)."""

    session: SessionRef
    turn: Turn
    replaced: Turn | None = None


@dataclass(frozen=True)
class AnswerEnded:
    """``ask`` returned ``reply``, a turn or not (an incomplete answer is not one)."""

    session: SessionRef
    reply: Reply


@dataclass(frozen=True)
class TurnPicked:
    """Another choice of ``turn`` (``n`` > 1) became its answer."""

    session: SessionRef
    turn: Turn


@dataclass(frozen=True)
class TurnDropped:
    """``turn`` left the history (``%deepseek undo``)."""

    session: SessionRef
    turn: Turn


@dataclass(frozen=True)
class SessionReset:
    session: SessionRef


@dataclass(frozen=True)
class TurnsRestored:
    """Turns read back from the ledger joined the history (``%deepseek restore``)."""

    session: SessionRef
    turns: tuple[Turn, ...]


@dataclass(frozen=True)
class NoticeRaised:
    """Something the user asking on ``session`` should read (a budget warning), raised where
    no cell can show it (the chat panel's thread)."""

    session: SessionRef
    text: str


SessionEvent: TypeAlias = (
    SessionCreated
    | RequestSettled
    | TurnAdded
    | AnswerEnded
    | TurnPicked
    | TurnDropped
    | SessionReset
    | TurnsRestored
    | NoticeRaised
)


class Host(Protocol):
    """What a session needs from the kernel it lives in."""

    @property
    def defaults(self) -> Defaults: ...

    def endpoint(self) -> Endpoint:
        """Where requests go now (the bundled emulator while the kernel is offline)."""
        ...

    def transport(self, endpoint: Endpoint, settings: TransportSettings) -> Transport:
        """A new transport for ``endpoint`` (the session keeps it while both stay the same)."""
        ...

    def check(self, session: SessionRef, reply: Reply, body: Mapping[str, Any]) -> None:
        """Before a request is sent: raise to refuse it (the budget), or warn."""
        ...

    def cache_mode(self, override: str | None) -> CacheMode:
        """The answer cache's mode for one question (``override``: the call's own); a bad
        ``EVO_MAGIC_CACHE`` is a ConfigError (see :mod:`~evo_magic.sessions.cache`)."""
        ...

    def cached(self, session: SessionRef, reply: Reply) -> Hit | None:
        """The kept answer of ``reply.request_key`` (None: none, or the store cannot be read)."""
        ...

    def keep(self, session: SessionRef, reply: Reply) -> None:
        """Keep the complete answer ``reply`` by its request key (a newer one replaces it)."""
        ...

    def start(self, session: SessionRef, reply: Reply) -> int | None:
        """A request is about to be sent: its ledger row (None when not recorded)."""
        ...

    def settle(self, session: SessionRef, reply: Reply) -> Charge:
        """A request ended: record it; what it cost."""
        ...

    def emit(self, event: SessionEvent) -> None:
        """Tell the kernel's listeners (the ledger, the panels) what happened."""
        ...


__all__ = [
    "DEFAULT_MAX_TOOL_ROUNDS",
    "AnswerEnded",
    "Charge",
    "Defaults",
    "Host",
    "LoopBounds",
    "NoticeRaised",
    "RequestSettled",
    "SessionCreated",
    "SessionEvent",
    "SessionRef",
    "SessionReset",
    "TurnAdded",
    "TurnDropped",
    "TurnPicked",
    "TurnsRestored",
]
