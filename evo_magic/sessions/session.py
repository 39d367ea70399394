"""The session: the one stateful object every surface (magics, panel, Python API) uses.

A :class:`Session` holds an append-only history of protocol-neutral messages and its own
settings; :meth:`Session.ask` builds the request (pure codec), streams it through the
session's :class:`~evo_magic.transport.Transport`, folds the events into a snapshot, feeds an
optional live view, and only on success appends the user and assistant messages, so a failed
request leaves no half turn behind. Earlier messages are re-sent exactly as before, so every
request extends the previous one and the API's prefix cache keeps hitting.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields, replace
from typing import TYPE_CHECKING, Any

from .. import config
from ..core.deltas import SecretMask
from ..core.events import Event, ReasoningDelta, TextDelta, ToolCallDelta
from ..core.messages import Message
from ..core.options import RequestOptions
from ..core.snapshot import ToolCall, TurnSnapshot
from ..core.usage import Usage
from ..errors import EvoMagicError, OptionError, ProtocolError, TransportError, scrub
from ..protocol import codec
from .reply import Interrupted, Reply, Timing, Turn
from .tools import function_tool, run_round, tool_map

if TYPE_CHECKING:
    from ..transport import Transport
    from .registry import Registry

log = logging.getLogger(__name__)

INCOMPLETE_REASONS = ("content_filter", "insufficient_system_resource", "aborted")


_CONTENT = (TextDelta, ReasoningDelta, ToolCallDelta)  # events that count as "a token arrived"


class SessionBusy(EvoMagicError):
    """Another surface (e.g. the panel) is streaming on this session right now."""


class Session:
    """A conversation with its settings. Create through :func:`evo_magic.session`."""

    def __init__(self, name: str, registry: Registry, **settings: Any):
        self.name = name
        self._registry = registry
        self.turns: list[Turn] = []
        self.settings: dict[str, Any] = {}
        self._transport: Transport | None = None
        self._transport_key: tuple[Any, ...] | None = None
        self._lock = threading.Lock()
        self._cancel = threading.Event()  # set by cancel(): the answer in flight stops
        self._response: Any = None  # the HTTP response being streamed, for cancel()
        self.tools: dict[str, Callable[..., Any]] = {}
        self.configure(**settings)

    def __repr__(self) -> str:
        return f"<evo_magic Session {self.name!r}: {len(self.turns)} turns, model {self.options().model}>"

    # --- settings -----------------------------------------------------------------------
    def configure(self, **settings: Any) -> Session:
        """Set session-level defaults (model, protocol, thinking, system, any option; None goes
        back to the kernel default). Checked at once: a bad model is an error here, not later."""
        unknown = set(settings) - {f.name for f in fields(RequestOptions)} - {"system"}
        if unknown:
            raise OptionError(f"unknown session setting(s): {', '.join(sorted(unknown))}")
        before = dict(self.settings)
        self.settings.update(settings)
        self.settings = {k: v for k, v in self.settings.items() if v is not None}
        try:
            self.options().validate()
        except OptionError:
            self.settings = before
            raise
        return self

    @property
    def system(self) -> str | None:
        return self.settings.get("system")

    def options(self, **overrides: Any) -> RequestOptions:
        """Effective options: built-in < kernel defaults < session settings < overrides."""
        d = self._registry.defaults
        base: dict[str, Any] = {
            "model": d.model,
            "protocol": d.protocol,
            "thinking": d.thinking,
            "max_tokens": d.max_tokens,
            "temperature": d.temperature,
            "extra_models": d.extra_models,
        }
        base.update({k: v for k, v in self.settings.items() if k != "system"})
        base.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return RequestOptions(**base)
        except TypeError as exc:
            raise OptionError(str(exc)) from None

    @property
    def history(self) -> list[Message]:
        """The messages every next request re-sends, in order (derived from the turns)."""
        return [m for turn in self.turns for m in turn.messages]

    def reset(self) -> None:
        """Forget the conversation (settings stay)."""
        with self._guard():
            self.turns.clear()
        self._registry.notify("reset", self, None)

    def undo(self) -> Turn:
        """Drop the last turn and return it."""
        with self._guard():
            if not self.turns:
                raise OptionError(f"session {self.name!r} has no turn to undo")
            turn = self.turns.pop()
        self._registry.notify("drop", self, turn)
        return turn

    def restore(self, stored: Iterable[Turn]) -> tuple[list[Turn], list[Turn]]:
        """Merge turns read back from the ledger into the conversation.

        Turns are ordered by their ledger id (the order they were asked in); a stored turn
        already present is skipped, and one whose cell was re-run in this kernel is
        superseded by the newer turn. Returns (added, superseded).
        """
        with self._guard():
            present = {t.ledger_id for t in self.turns if t.ledger_id is not None}
            cells = {t.cell_id for t in self.turns if t.cell_id}
            added: list[Turn] = []
            superseded: list[Turn] = []
            for turn in stored:
                if turn.ledger_id in present:
                    continue
                (superseded if turn.cell_id and turn.cell_id in cells else added).append(turn)
            if not added:
                return added, superseded
            unrecorded = [t for t in self.turns if t.ledger_id is None]
            known = [t for t in self.turns if t.ledger_id is not None] + added
            self.turns[:] = sorted(known, key=lambda t: t.ledger_id or 0) + unrecorded
        self._registry.notify("restore", self, added)
        return added, superseded

    def cancel(self) -> bool:
        """Stop the answer streaming on this session (from another thread: the panel's Stop).

        The stream ends at once, even while the server sends nothing; the partial answer is
        kept and ``ask`` raises :class:`~evo_magic.sessions.reply.Interrupted` as after Ctrl-C.
        Returns False when nothing was streaming."""
        if not self._lock.locked():
            return False
        self._cancel.set()
        response = self._response
        if response is not None:
            try:
                response.close()  # unblocks a read waiting for the next chunk
            except Exception:  # closing from another thread may race the reader; the flag is set
                log.debug("cancel: closing the response failed", exc_info=True)
        return True

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    # --- asking -------------------------------------------------------------------------
    def ask(
        self,
        prompt: str,
        *,
        system: str | None = None,
        view: Any = None,
        view_factory: Callable[[], Any] | None = None,
        cell: Any = None,
        cell_id: str | None = None,
        tools: Iterable[Callable[..., Any]] | Mapping[str, Callable[..., Any]] | None = None,
        approve: Callable[[ToolCall], bool] | None = None,
        on_tool: Callable[[ToolCall, str, bool], None] | None = None,
        max_tool_rounds: int | None = None,
        max_tool_calls: int | None = None,
        **options: Any,
    ) -> Reply:
        """Send ``prompt`` (with the history) and return the :class:`Reply`.

        ``view`` is a live view (``evo_magic.display.live.open_view``) for the answer, or
        ``view_factory`` makes one per request (a tool loop makes several requests).
        ``tools`` are notebook functions the model may call (default: the session's
        ``tools``); each call runs here, ``approve`` may veto it, ``on_tool`` sees each result,
        and the loop stops after ``max_tool_rounds`` rounds (default 8). At most
        ``max_tool_calls`` calls run per round (default 32); the others are answered as not run,
        and ``reply.notes`` (shown under the answer) says so.

        Raises :class:`~evo_magic.errors.EvoMagicError` subclasses on failure (with the
        partial reply as ``.reply``) and :class:`~evo_magic.sessions.reply.Interrupted` on Ctrl-C.
        """
        if not isinstance(prompt, str) or not prompt.strip():
            raise OptionError("the prompt is empty")
        prompt, system = scrub(prompt), None if system is None else scrub(system)  # no key, no surrogate
        functions = tool_map(tools if tools is not None else self.tools)
        if functions:
            options["tools"] = tuple(function_tool(fn, name) for name, fn in functions.items())
        opts = self.options(**options).validate()
        d = self._registry.defaults  # 0 rounds would drop the turn once the model calls a tool
        rounds_left = _at_least_one("max_tool_rounds", max_tool_rounds, d.max_tool_rounds)
        cap = _at_least_one("max_tool_calls", max_tool_calls, d.max_tool_calls)
        endpoint = config.resolve()
        endpoint.require_key()
        replaced: Turn | None = None
        with self._guard():
            self._cancel.clear()
            slot = next((i for i, t in enumerate(self.turns) if cell_id and t.cell_id == cell_id), None)
            kept = self.turns if slot is None else self.turns[:slot]
            before = [m for turn in kept for m in turn.messages]
            if opts.json_mode:
                prompt = self._json_prompt(prompt, system or self.system)
            added = self._new_messages(prompt, system, cell, before)
            proto = codec(opts.protocol)
            transport = self._transport_for(endpoint)
            loop: list[Message] = []
            rounds: list[Reply] = []
            notes: list[str] = []
            while True:
                body = proto.build_body([*before, *added, *loop], opts)
                reply = self._run(transport, proto, body, opts, view, cell, view_factory, notes)
                rounds.append(reply)
                reply.rounds = rounds
                calls = reply.tool_calls
                if not (functions and calls and reply.finish_reason == "tool_calls"):
                    break
                if rounds_left <= 0:
                    reply.status = "tool_rounds"
                    break
                rounds_left -= 1
                loop.append(Message.from_snapshot(reply.snapshot, cell=cell))
                results, note = run_round(functions, calls, cap=cap, approve=approve, on_tool=on_tool)
                loop += results
                if note is not None:
                    notes.append(note)  # every later round's reply (the answer's banner) shows it
            if opts.json_mode and reply.status == "ok":
                reply = self._parse_json(reply, transport, proto, body, opts, view_factory, view)
            assistant = Message.from_snapshot(reply.snapshot, cell=cell)
            if reply.status in ("ok", "length"):
                turn = Turn(prompt, reply, cell, [*added, *loop, assistant], cell_id)
                if slot is None:
                    self.turns.append(turn)
                else:  # a re-run cell replaces its own turn; later turns stay
                    replaced, self.turns[slot] = self.turns[slot], turn
        if replaced is not None:
            self._registry.notify("drop", self, replaced)
        self._registry.notify("turn", self, reply)
        return reply

    def _parse_json(
        self,
        reply: Reply,
        transport: Transport,
        proto: Any,
        body: dict[str, Any],
        opts: RequestOptions,
        view_factory: Callable[[], Any] | None,
        view: Any,
    ) -> Reply:
        """JSON mode: parse the answer; an invalid one (the API may send only spaces) is
        retried once with the same request, then it is an error."""
        for attempt in (1, 2):
            try:
                reply.data = json.loads(reply.text)
                return reply
            except json.JSONDecodeError as exc:
                problem = "only whitespace" if not reply.text.strip() else f"invalid JSON ({exc.msg})"
            if attempt == 2:
                err = ProtocolError(f"the answer is {problem} even after one retry in JSON mode")
                err.reply = reply  # type: ignore[attr-defined]
                raise err
            log.info("JSON mode answer was %s; retrying once", problem)
            reply = self._run(transport, proto, body, opts, view, reply.cell, view_factory, reply.notes)
        return reply  # pragma: no cover

    def pick(self, choice: int) -> None:
        """Continue the conversation from choice ``choice`` (0-based) of the last turn (n > 1)."""
        if not self.turns:
            raise OptionError("there is no turn to pick a choice from")
        turn = self.turns[-1]
        snap = turn.reply.snapshot
        if choice not in snap.choices:
            raise OptionError(f"the last answer has choices 1..{len(snap.choices)}, not {choice + 1}")
        with self._guard():
            turn.messages[-1] = Message.from_snapshot(snap, choice=choice, cell=turn.cell)
        self._registry.notify("pick", self, turn.reply)  # the ledger keeps the picked answer

    def _new_messages(self, prompt: str, system: str | None, cell: Any, before: list[Message]) -> list[Message]:
        added: list[Message] = []
        system = system if system is not None else self.system
        current = next((m.content for m in reversed(before) if m.role == "system"), None)
        if system and system != current:
            added.append(Message.system(system))
            if system != self.system:
                self.settings["system"] = system
        added.append(Message.user(prompt, cell=cell))
        return added

    @staticmethod
    def _json_prompt(prompt: str, system: str | None) -> str:
        """DeepSeek's JSON mode needs the word "json" in the prompt; add a short request."""
        if "json" in prompt.lower() or (system and "json" in system.lower()):
            return prompt
        return prompt + "\n\nRespond with a JSON object."

    def _run(
        self,
        transport: Transport,
        proto: Any,
        body: dict[str, Any],
        opts: RequestOptions,
        view: Any,
        cell: Any = None,
        view_factory: Callable[[], Any] | None = None,
        notes: list[str] | None = None,
    ) -> Reply:
        """One request: guards, stream, fold, settle (ledger listeners, then the view). The view
        is made after the guards, so a refused request leaves no "Waiting for…" behind."""
        self._registry.check(self, opts, body)
        view = view_factory() if view_factory is not None else view
        snap = TurnSnapshot()
        reply = Reply(snap, opts.model, self.name, Timing(time.monotonic()), protocol=opts.protocol, cell=cell)
        reply.notes = notes if notes is not None else []
        reply.offline = transport.endpoint.offline  # the bundled emulator: priced, never billed
        self._registry.notify("start", self, reply)  # the ledger's row exists before a byte is billed
        shown = view is not None and bool(getattr(view, "shows_answer", False))  # above the message
        try:
            self._stream(transport, proto, body, opts, view, reply)
        except KeyboardInterrupt:
            self._settle(reply, view, "interrupted", None)
            raise Interrupted(reply, shown=shown) from None
        except Exception as exc:
            if self._cancel.is_set():  # cancel() closed the response under the reader
                self._settle(reply, view, "interrupted", None)
                raise Interrupted(reply, shown=shown) from None
            # (a bug, not an EvoMagicError, still settles: the ledger's started row must end)
            self._settle(reply, view, "error", exc if isinstance(exc, EvoMagicError) else None)
            raise
        if snap.error is not None:
            self._settle(reply, view, "error", snap.error)
            raise snap.error
        reason = snap.finish_reason or "stop"
        self._settle(reply, view, reason if reason in (*INCOMPLETE_REASONS, "length") else "ok", None)
        return reply

    def _stream(
        self, transport: Transport, proto: Any, body: dict[str, Any], opts: RequestOptions, view: Any, reply: Reply
    ) -> None:
        """Parser -> secret mask -> snapshot. The parser and the mask are flushed however the
        stream ends (an error or Ctrl-C included), so the partial answer is whole and masked."""
        snap, timing = reply.snapshot, reply.timing
        if self._cancel.is_set():
            raise KeyboardInterrupt
        mask = SecretMask()  # the key the model may repeat, masked as prompts are
        parser = proto.StreamParser() if opts.stream else None

        def take(events: list[Event]) -> None:
            for event in events:
                snap.apply(event)
                if timing.first_text is None and isinstance(event, _CONTENT):
                    timing.mark(event)

        try:
            with transport.post(proto.PATH, body) as response:
                self._response = response
                if parser is None:
                    take(mask.feed(proto.parse_response(response.read())))
                else:
                    for data in transport.iter_sse_data(response):
                        if self._cancel.is_set():
                            raise KeyboardInterrupt
                        take(mask.feed(parser.feed(data)))
                        if view is not None:
                            view.update(snap)
        finally:
            self._response = None
            if parser is not None:
                take(mask.feed(parser.flush()))
            take(mask.flush())
        if self._cancel.is_set():
            raise KeyboardInterrupt
        if snap.error is None and not snap.complete:
            raise TransportError(
                "the stream ended before the answer was complete; the partial answer is kept",
                retryable=False,
            )

    def _settle(self, reply: Reply, view: Any, status: str, error: EvoMagicError | None) -> None:
        """Every request ends here: listeners (the ledger's row, ``reply.cost``), then the view."""
        reply.finish(status, error)
        if error is not None:
            error.reply = reply  # type: ignore[attr-defined]
        self._registry.notify("request", self, reply)
        _finish_view(view, reply)

    def _transport_for(self, endpoint: config.Endpoint) -> Transport:
        from ..transport import Transport

        settings = self._registry.transport_settings()
        key = (endpoint, settings)
        if self._transport is None or self._transport_key != key:
            self.close()
            self._transport = Transport(endpoint, settings, **self._registry.transport_kwargs)
            self._transport_key = key
        return self._transport

    def _guard(self) -> Any:
        registry_lock = self._lock

        class _Guard:
            def __enter__(self_inner) -> None:
                if not registry_lock.acquire(blocking=False):
                    raise SessionBusy(f"session {self.name!r} is answering elsewhere (panel?); wait or use -s NAME")

            def __exit__(self_inner, *exc: Any) -> None:
                registry_lock.release()

        return _Guard()

    # --- inspection ---------------------------------------------------------------------
    @property
    def usage(self) -> Usage:
        """Tokens of all successful turns in this session, every request of a tool loop included."""
        return Usage.total(turn.reply.total_usage for turn in self.turns) or Usage()


def _at_least_one(name: str, value: int | None, default: int) -> int:
    value = default if value is None else value
    if value < 1:
        raise OptionError(f"{name} must be at least 1, not {value}")
    return value


def _finish_view(view: Any, reply: Reply) -> None:
    if view is not None:
        footer = reply.footer
        if reply.status == "interrupted":  # the Interrupted line under the answer says so, once
            footer = replace(footer, banner=False)
        view.finish(reply.snapshot, footer)
        reply.thinking_open = bool(getattr(view, "thinking_open", False))  # as the reader left it
