"""One request of a session, from the guards to the settled reply (the session's IO step).

:class:`Exchange` runs one request: the host's guards, the live view (made only once the
guards let the request through, so a refused one leaves no "Waiting…" behind), the ledger's
started row, the stream — parser, then the secret mask, then the snapshot — and the settling:
status, the host's charge, the view's final render. Every request ends in :meth:`_settle`,
whatever happened, so the ledger never keeps a row that was started and not settled while the
kernel lives.

Before all that, the exact request is looked up in the answer cache (as the mode says,
:mod:`~evo_magic.sessions.cache`): a kept answer is replayed — its events folded, the view
shown at once, settled at $0 — and a complete new answer is kept.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from ..core.deltas import SecretMask
from ..core.events import Event, ReasoningDelta, TextDelta, ToolCallDelta
from ..core.messages import Message
from ..core.options import RequestOptions
from ..core.replay import request_key
from ..core.snapshot import TurnSnapshot
from ..core.status import Status
from ..display.render import Footer
from ..errors import EvoMagicError, TransportError
from ..protocol import Reader
from .cache import KEEPS, LOOKS_UP, CacheMiss, CacheMode, Hit, miss_message
from .host import Host, RequestSettled, SessionRef
from .prefix import seed
from .provenance import Asked, output_metadata
from .reply import Interrupted, Reply, Timing
from .routes import Route, explain

if TYPE_CHECKING:
    from ..transport import Transport

log = logging.getLogger(__name__)

INCOMPLETE_REASONS: tuple[Status, ...] = ("content_filter", "insufficient_system_resource", "aborted")
_CONTENT = (TextDelta, ReasoningDelta, ToolCallDelta)  # events that count as "a token arrived"


class View(Protocol):
    """A live view of one answer (see :mod:`evo_magic.display.live`): ``update`` after every
    stream event (cheap), ``finish`` once with the footer (idempotent, also after an error).
    A view that keeps an output may also have ``annotate(metadata)``: it is given the output's
    metadata (the answer's provenance) just before ``finish``."""

    def update(self, snapshot: TurnSnapshot) -> None: ...

    def finish(self, snapshot: TurnSnapshot, footer: Footer) -> None: ...


#: Makes the live view of one request, given its options (a tool loop makes several).
ViewFactory = Callable[[RequestOptions], View | None]


class Cancel:
    """The session's stop switch: set from another thread (the panel's Stop); closing the
    response being read unblocks a reader waiting for the next chunk."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.response: Any = None  # the HTTP response being streamed

    def clear(self) -> None:
        self._event.clear()

    def is_set(self) -> bool:
        return self._event.is_set()

    def set(self) -> None:
        self._event.set()
        response = self.response
        if response is not None:
            try:
                response.close()
            except Exception:  # closing from another thread may race the reader; the flag is set
                log.debug("cancel: closing the response failed", exc_info=True)


class Exchange:
    """One request of ``session`` through ``transport`` with ``codec``, to ``route`` (None: the
    codec's path); a ``prefix`` (the start of the answer, last in the body) starts the reply."""

    def __init__(
        self,
        session: SessionRef,
        host: Host,
        transport: Transport,
        codec: Reader,
        opts: RequestOptions,
        cancel: Cancel,
        cache: CacheMode = "off",
        *,
        route: Route | None = None,
        prefix: Message | None = None,
    ) -> None:
        self.session, self.host, self.transport = session, host, transport
        self.codec, self.opts, self.cancel, self.cache = codec, opts, cancel, cache
        self.route, self.prefix = route, prefix

    @property
    def path(self) -> str:
        """Where the request goes: the route (prefix continuation, FIM) or the codec's path."""
        return self.route.path if self.route is not None else self.codec.PATH

    def run(
        self,
        body: Mapping[str, Any],
        *,
        cell: Any,
        views: ViewFactory,
        notes: list[str],
        asked: Asked | None = None,
        lookup: bool = True,
    ) -> Reply:
        """Answer ``body`` from the cache, or send it, and return the settled reply; raise the
        error or :class:`~evo_magic.sessions.reply.Interrupted` after settling. ``lookup``
        False asks again even when the cache is on (a retry of the same request), except
        under ``replay-only``, which never sends."""
        reply = Reply(
            TurnSnapshot(),
            self.opts.model,
            self.session.name,
            Timing(time.monotonic()),
            protocol=self.opts.protocol,
            cell=cell,
            offline=self.transport.endpoint.offline,  # the bundled emulator: priced, never billed
            notes=notes,
            request_key=request_key(self.opts.protocol, self.path, body),
            asked=asked,
            options=self.opts,
        )
        mode: CacheMode = "refresh" if self.cache == "on" and not lookup else self.cache
        if mode in LOOKS_UP:
            hit = self.host.cached(self.session, reply)
            if hit is not None:
                return self._replay(reply, hit, views)
            if mode == "replay-only":
                raise CacheMiss(miss_message(cell, asked.prompt if asked is not None else None))
        self._send(body, reply, views)
        if mode in KEEPS and reply.status in ("ok", "length") and not reply.offline:  # never the emulator's
            self.host.keep(self.session, reply)
        return reply

    def _send(self, body: Mapping[str, Any], reply: Reply, views: ViewFactory) -> None:
        """The request itself: guards, view, started row, stream, settle (see the module doc)."""
        self.host.check(self.session, reply, body)
        view = views(self.opts)
        mask = SecretMask()  # the key the model may repeat, masked as prompts are
        if self.prefix is not None:  # the answer shown and kept is the prefix and what follows it
            seed(reply.snapshot, self.prefix, self.opts.n, mask)  # a key it cuts in two is masked whole
        reply.ledger_request = self.host.start(self.session, reply)  # the row exists before a byte is billed
        shown = bool(getattr(view, "shows_answer", False))  # the interrupt line points above
        try:
            self._stream(body, view, reply, mask)
        except KeyboardInterrupt:
            self._settle(reply, view, "interrupted", None)
            raise Interrupted(reply, shown=shown) from None
        except Exception as exc:
            if self.cancel.is_set():  # Stop closed the response under the reader
                self._settle(reply, view, "interrupted", None)
                raise Interrupted(reply, shown=shown) from None
            if self.route is not None and isinstance(exc, EvoMagicError):
                explain(exc, self.route)  # a route the gateway does not serve: which setting to change
            # a bug, not an EvoMagicError, still settles: the ledger's started row must end
            self._settle(reply, view, "error", exc if isinstance(exc, EvoMagicError) else None)
            raise
        error = reply.snapshot.error
        if error is not None:
            self._settle(reply, view, "error", error)
            raise error
        self._settle(reply, view, _status(reply.snapshot.finish_reason), None)

    def _replay(self, reply: Reply, hit: Hit, views: ViewFactory) -> Reply:
        """The kept answer as if it had just arrived, at once: folded, shown, settled at $0."""
        view = views(self.opts)
        reply.cached, reply.offline, reply.answered_at = True, False, hit.at
        for event in hit.events:
            reply.snapshot.apply(event)
        if view is not None:
            view.update(reply.snapshot)
        self._settle(reply, view, _status(reply.snapshot.finish_reason), None)
        return reply

    def _stream(self, body: Mapping[str, Any], view: View | None, reply: Reply, mask: SecretMask) -> None:
        """Parser -> secret mask -> snapshot. The parser and the mask are flushed however the
        stream ends (an error or Ctrl-C included), so the partial answer is whole and masked."""
        snap, timing = reply.snapshot, reply.timing
        parser = self.codec.StreamParser() if self.opts.stream else None

        def take(events: list[Event]) -> None:
            for event in events:
                snap.apply(event)
                if timing.first_text is None and isinstance(event, _CONTENT):
                    timing.mark(event)

        try:
            if self.cancel.is_set():  # in the try: the mask still gives back what it holds of a prefix
                raise KeyboardInterrupt
            with self.transport.post(self.path, dict(body)) as response:
                self.cancel.response = response
                if parser is None:
                    take(mask.feed(self.codec.parse_response(response.read())))
                else:
                    for data in self.transport.iter_sse_data(response):
                        if self.cancel.is_set():
                            raise KeyboardInterrupt
                        take(mask.feed(parser.feed(data)))
                        if view is not None:
                            view.update(snap)
        finally:
            self.cancel.response = None
            if parser is not None:
                take(mask.feed(parser.flush()))
            take(mask.flush())
        if self.cancel.is_set():
            raise KeyboardInterrupt
        if snap.error is None and not snap.complete:
            raise TransportError(
                "the stream ended before the answer was complete; the partial answer is kept", retryable=False
            )

    def _settle(self, reply: Reply, view: View | None, status: Status, error: EvoMagicError | None) -> None:
        """Status, the host's charge (the ledger's row), the event, then the view's final render."""
        reply.finish(status, error)
        if error is not None:
            error.reply = reply
        charge = self.host.settle(self.session, reply)
        reply.cost, reply.priced, reply.saved, reply.price_from = charge[:4]
        if charge.row is not None:
            reply.ledger_request = charge.row
        self.host.emit(RequestSettled(self.session, reply))
        if view is not None:
            footer = reply.footer
            if status == "interrupted":  # the Interrupted line under the answer says so, once
                footer = dataclasses.replace(footer, banner=False)
            annotate = getattr(view, "annotate", None)
            if callable(annotate):
                annotate(output_metadata(reply))
            view.finish(reply.snapshot, footer)
            reply.thinking_open = bool(getattr(view, "thinking_open", False))  # as the reader left it


def _status(reason: str | None) -> Status:
    """The status of a completed answer from its finish reason."""
    if reason == "length":
        return "length"
    for incomplete in INCOMPLETE_REASONS:
        if reason == incomplete:
            return incomplete
    return "ok"


__all__ = ["INCOMPLETE_REASONS", "Cancel", "Exchange", "View", "ViewFactory"]
