"""The session: the one stateful object every surface (magics, panel, Python API) uses.

A :class:`Session` holds its turns (each the messages it added to the history) and its own
settings. :meth:`Session.ask` resolves and validates the options once, builds each request
with the protocol's codec, runs it as an :class:`~evo_magic.sessions.request.Exchange`
(guards, stream, fold, settle), runs the tool loop, and only on success adds the turn, so a
failed request leaves no half turn behind. Earlier messages are re-sent exactly as before, so
every request extends the previous one and the API's prefix cache keeps hitting.

The session knows the kernel only through its :class:`~evo_magic.sessions.host.Host`: the
defaults, the endpoint, the guards and the ledger's hooks; it reports what changed as typed
events (:data:`~evo_magic.sessions.host.SessionEvent`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..core.messages import Message
from ..core.options import RequestOptions
from ..core.schema import schema_of
from ..core.snapshot import ToolCall
from ..core.usage import Usage
from ..errors import EvoMagicError, OptionError, ProtocolError, scrub
from ..protocol import Reader, codec
from .continuation import continue_turn
from .host import AnswerEnded, Host, SessionReset, TurnAdded, TurnDropped, TurnPicked, TurnsRestored
from .prefix import prefix_message
from .provenance import Asked
from .question import Question
from .reply import Reply, Turn
from .request import Cancel, Exchange, View, ViewFactory
from .routes import Route
from .structured import validated
from .tools import ToolSpec, function_tool, run_round, tool_map

if TYPE_CHECKING:
    from ..config import Endpoint, TransportSettings
    from ..transport import Transport

log = logging.getLogger(__name__)

#: What a session may be configured with: every request option, and its system prompt.
SETTINGS = frozenset(f.name for f in dataclasses.fields(RequestOptions)) | {"system"}
_OK = ("ok", "length")  # the statuses whose answer becomes a turn


class SessionBusy(EvoMagicError):
    """Another surface (e.g. the panel) is streaming on this session right now."""


class Session:
    """A conversation with its settings. Create through :func:`evo_magic.session`."""

    def __init__(self, name: str, host: Host, **settings: Any):
        self.name = name
        self.host = host
        self.turns: list[Turn] = []
        self.settings: dict[str, Any] = {}
        self.tools: dict[str, Callable[..., Any]] = {}
        self._transport: Transport | None = None
        self._transport_key: tuple[Endpoint, TransportSettings] | None = None
        self._lock = threading.Lock()
        self._cancel = Cancel()
        self.configure(**settings)

    def __repr__(self) -> str:
        return f"<evo_magic Session {self.name!r}: {len(self.turns)} turns, model {self.options().model}>"

    # --- settings -----------------------------------------------------------------------
    def configure(self, **settings: Any) -> Session:
        """Set session-level defaults (model, protocol, thinking, system, any option; None goes
        back to the kernel default). Checked at once: a bad model is an error here, not later."""
        unknown = set(settings) - SETTINGS
        if unknown:
            raise OptionError(f"unknown session setting(s): {', '.join(sorted(unknown))}")
        before = dict(self.settings)
        self.settings = {k: v for k, v in {**self.settings, **settings}.items() if v is not None}
        try:
            self.options().validate()
        except OptionError:
            self.settings = before
            raise
        return self

    @property
    def system(self) -> str | None:
        value = self.settings.get("system")
        return value if isinstance(value, str) else None

    def options(self, **overrides: Any) -> RequestOptions:
        """Effective options, not yet validated: the kernel defaults, then the session's
        settings, then ``overrides`` (None: not given)."""
        chosen = {k: v for k, v in self.settings.items() if k != "system"}
        chosen.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return self.host.defaults.request.replace(**chosen)
        except TypeError as exc:
            raise OptionError(str(exc)) from None

    @property
    def history(self) -> list[Message]:
        """The messages every next request re-sends, in order (derived from the turns)."""
        return [m for turn in self.turns for m in turn.messages]

    # --- the conversation ---------------------------------------------------------------
    def reset(self) -> None:
        """Forget the conversation (settings stay)."""
        with self._busy():
            self.turns.clear()
        self.host.emit(SessionReset(self))

    def undo(self) -> Turn:
        """Drop the last turn and return it."""
        with self._busy():
            if not self.turns:
                raise OptionError(f"session {self.name!r} has no turn to undo")
            turn = self.turns.pop()
        self.host.emit(TurnDropped(self, turn))
        return turn

    def restore(self, stored: Iterable[Turn]) -> tuple[list[Turn], list[Turn]]:
        """Merge turns read back from the ledger into the conversation.

        Turns are ordered by their ledger id (the order they were asked in); a stored turn
        already present is skipped, and one whose cell was re-run in this kernel is
        superseded by the newer turn. Returns (added, superseded).
        """
        with self._busy():
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
        self.host.emit(TurnsRestored(self, tuple(added)))
        return added, superseded

    def pick(self, choice: int) -> None:
        """Continue the conversation from choice ``choice`` (0-based) of the last turn (n > 1)."""
        if not self.turns:
            raise OptionError("there is no turn to pick a choice from")
        turn = self.turns[-1]
        snap = turn.reply.snapshot
        if choice not in snap.choices:
            raise OptionError(f"the last answer has choices 1..{len(snap.choices)}, not {choice + 1}")
        with self._busy():
            turn.messages[-1] = Message.from_snapshot(snap, choice=choice, cell=turn.cell)
        self.host.emit(TurnPicked(self, turn))

    def cancel(self) -> bool:
        """Stop the answer streaming on this session (from another thread: the panel's Stop).

        The stream ends at once, even while the server sends nothing; the partial answer is
        kept and ``ask`` raises :class:`~evo_magic.sessions.reply.Interrupted` as after Ctrl-C.
        Returns False when nothing was streaming."""
        if not self._lock.locked():
            return False
        self._cancel.set()
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
        view: View | None = None,
        view_factory: ViewFactory | None = None,
        cell: Any = None,
        cell_id: str | None = None,
        tools: Iterable[Callable[..., Any]] | Mapping[str, Callable[..., Any]] | None = None,
        approve: Callable[[ToolCall], bool] | None = None,
        on_tool: Callable[[ToolCall, str, bool], None] | None = None,
        max_tool_rounds: int | None = None,
        max_tool_calls: int | None = None,
        new: bool = False,
        schema: Any = None,
        cache: str | None = None,
        **options: Any,
    ) -> Reply:
        """Send ``prompt`` (with the history) and return the :class:`Reply`.

        ``view`` is a live view (``evo_magic.display.live.open_view``) for the answer, or
        ``view_factory(options)`` makes one per request (a tool loop makes several requests).
        ``tools`` are notebook functions the model may call (default: the session's
        ``tools``); each call runs here, ``approve`` may veto it, ``on_tool`` sees each result,
        and the loop stops after ``max_tool_rounds`` rounds (default 8). At most
        ``max_tool_calls`` calls run per round (default 32); the others are answered as not run,
        and ``reply.notes`` (shown under the answer) says so. ``new`` starts a new conversation
        first — once the question was checked. ``schema`` (a pydantic model, dataclass, TypedDict
        or JSON Schema dict) is described in the prompt, JSON mode is on, and the answer is
        validated into ``reply.data`` (an invalid one is asked again once, with the problem).
        ``cache`` is its answer cache mode (:mod:`~evo_magic.sessions.cache`; None: the kernel's);
        ``prefix=`` starts the answer, ``prefix_reasoning=`` its thinking. Everything is checked
        before anything is sent: a bad option is an OptionError, a missing key a ConfigError.

        Raises :class:`~evo_magic.errors.EvoMagicError` subclasses on failure (with the
        partial reply as ``.reply``) and :class:`~evo_magic.sessions.reply.Interrupted` on Ctrl-C.
        """
        endpoint = self.host.endpoint()  # the key is read, and so masked, before the prompt is scrubbed
        question = self._question(prompt, system, options, tools, max_tool_rounds, max_tool_calls, cache)
        question = dataclasses.replace(
            question,
            cell=cell, cell_id=cell_id,
            views=view_factory if view_factory is not None else (lambda opts: view),
            approve=approve,
            on_tool=on_tool,
            schema=None if schema is None else schema_of(schema),
        )
        if question.schema is not None and question.opts.protocol == "openai":
            question = dataclasses.replace(question, opts=question.opts.replace(json_mode=True).validate())
        endpoint.require_key()
        if new:
            self.reset()
        with self._busy():
            self._cancel.clear()
            reply, added = self._answer(question, self._transport_for(endpoint))
        if added is not None:
            self.host.emit(added)
        self.host.emit(AnswerEnded(self, reply))
        return reply

    def _question(
        self,
        prompt: str,
        system: str | None,
        options: dict[str, Any],
        tools: Iterable[Callable[..., Any]] | Mapping[str, Callable[..., Any]] | None,
        max_tool_rounds: int | None,
        max_tool_calls: int | None,
        cache: str | None = None,
    ) -> Question:
        """The question checked and resolved: options validated once, tool schemas built once."""
        if not isinstance(prompt, str) or not prompt.strip():
            raise OptionError("the prompt is empty")
        start = options.pop("prefix", None), options.pop("prefix_reasoning", None)  # prefix continuation
        functions = tool_map(tools if tools is not None else self.tools)
        specs: tuple[ToolSpec, ...] = tuple(function_tool(fn, name) for name, fn in functions.items())
        if specs:
            options["tools"] = specs
        opts = self.options(**options).validate()
        bounds = self.host.defaults.loop.with_overrides(max_tool_rounds, max_tool_calls)
        clean_system = None if system is None else scrub(system)  # no key, no lone surrogate
        mode = self.host.cache_mode(cache)  # a bad EVO_MAGIC_CACHE is refused here, before anything is sent
        prefix = prefix_message(*start, opts)
        return Question(scrub(prompt), clean_system, opts, bounds, functions, cache=mode, prefix=prefix)

    def _answer(self, q: Question, transport: Transport) -> tuple[Reply, TurnAdded | None]:
        """The tool loop and JSON mode around the requests; the turn added, if any."""
        slot = next((i for i, t in enumerate(self.turns) if q.cell_id and t.cell_id == q.cell_id), None)
        before = [m for turn in (self.turns if slot is None else self.turns[:slot]) for m in turn.messages]
        prompt = _json_prompt(q.prompt, q.system or self.system) if q.opts.json_mode else q.prompt
        if q.schema is not None:
            prompt = f"{q.prompt}\n\n{q.schema.describe()}"
        added = self._new_messages(prompt, q.system, q.cell, before)
        proto = codec(q.opts.protocol)
        tail = [] if q.prefix is None else [q.prefix]
        route = self.host.defaults.routes.prefix(q.opts.protocol) if tail else None
        exchange = Exchange(
            self, self.host, transport, proto, q.opts, self._cancel, q.cache, route=route, prefix=q.prefix
        )
        loop: list[Message] = []
        rounds: list[Reply] = []
        notes: list[str] = []  # every round's reply (the answer's banner) shows them
        rounds_left = q.bounds.max_tool_rounds
        while True:
            body = proto.build_body([*before, *added, *loop, *tail], q.opts)
            asked = Asked(prompt, (*added, *loop), q.cell_id)
            reply = exchange.run(body, cell=q.cell, views=q.views, notes=notes, asked=asked)
            rounds.append(reply)
            reply.rounds = rounds
            if not (q.functions and reply.tool_calls and reply.finish_reason == "tool_calls"):
                break
            if rounds_left <= 0:
                reply.status = "tool_rounds"
                break
            rounds_left -= 1
            loop.append(Message.from_snapshot(reply.snapshot, cell=q.cell))
            results, note = run_round(q.functions, reply.tool_calls, cap=q.bounds.max_tool_calls,
                                      approve=q.approve, on_tool=q.on_tool)  # fmt: skip
            loop += results
            if note is not None:
                notes.append(note)
        if q.schema is not None and reply.status == "ok":
            reply = validated(reply, exchange, proto.build_body, [*before, *added, *loop], loop, q)
        elif q.opts.json_mode and reply.status == "ok":
            reply = _parse_json(reply, exchange, body, q)
        if reply.status not in _OK:
            return reply, None
        assistant = Message.from_snapshot(reply.snapshot, cell=q.cell)
        turn = Turn(prompt, reply, q.cell, [*added, *loop, assistant], q.cell_id, reply.ledger_request)
        if slot is None:
            self.turns.append(turn)
            return reply, TurnAdded(self, turn)
        replaced, self.turns[slot] = self.turns[slot], turn  # a re-run cell replaces its own turn
        return reply, TurnAdded(self, turn, replaced)

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

    def continue_(self, *, max_tokens: int | None = None, view: View | None = None,
                  view_factory: ViewFactory | None = None, cell: Any = None) -> Reply:  # fmt: skip
        """Continue the last answer, cut at max_tokens (an empty one whose thinking used the
        budget too), optionally with a larger ``max_tokens``: the reply holds the whole answer,
        which takes the cut one's place in the same turn (:mod:`.continuation`)."""
        views = view_factory if view_factory is not None else (lambda opts: view)
        return continue_turn(self, max_tokens=max_tokens, views=views, cell=cell)

    @contextmanager
    def exchange(
        self, opts: RequestOptions, reader: Reader, *, route: Route | None = None, prefix: Message | None = None
    ) -> Iterator[Exchange]:
        """One request outside a question (a continuation, FIM): the key checked, the session held."""
        endpoint = self.host.endpoint()
        endpoint.require_key()
        with self._busy():
            self._cancel.clear()
            transport = self._transport_for(endpoint)
            yield Exchange(self, self.host, transport, reader, opts, self._cancel, route=route, prefix=prefix)

    def _transport_for(self, endpoint: Endpoint) -> Transport:
        """The session's transport, made anew when the endpoint or the settings changed."""
        settings = self.host.defaults.transport
        key = (endpoint, settings)
        if self._transport is None or self._transport_key != key:
            self.close()
            self._transport = self.host.transport(endpoint, settings)
            self._transport_key = key
        return self._transport

    @contextmanager
    def _busy(self) -> Iterator[None]:
        """Hold the session: a second surface asking at the same time gets SessionBusy."""
        if not self._lock.acquire(blocking=False):
            raise SessionBusy(f"session {self.name!r} is answering elsewhere (panel?); wait or use -s NAME")
        try:
            yield
        finally:
            self._lock.release()

    # --- inspection ---------------------------------------------------------------------
    @property
    def usage(self) -> Usage:
        """Tokens of all successful turns in this session, every request of a tool loop included."""
        return Usage.total(turn.reply.total_usage for turn in self.turns) or Usage()


def _json_prompt(prompt: str, system: str | None) -> str:
    """DeepSeek's JSON mode needs the word "json" in the prompt; add a short request."""
    if "json" in prompt.lower() or (system and "json" in system.lower()):
        return prompt
    return prompt + "\n\nRespond with a JSON object."


def _parse_json(reply: Reply, exchange: Exchange, body: Mapping[str, Any], q: Question) -> Reply:
    """JSON mode: parse the answer; an invalid one (the API may send only spaces) is retried
    once with the same request, then it is an error."""
    for attempt in (1, 2):
        try:
            reply.data = json.loads(reply.text)
            return reply
        except json.JSONDecodeError as exc:
            problem = "only whitespace" if not reply.text.strip() else f"invalid JSON ({exc.msg})"
        if attempt == 2:
            err = ProtocolError(f"the answer is {problem} even after one retry in JSON mode")
            err.reply = reply
            raise err
        log.info("JSON mode answer was %s; retrying once", problem)
        reply = exchange.run(body, cell=q.cell, views=q.views, notes=reply.notes, asked=reply.asked, lookup=False)
    return reply  # pragma: no cover


__all__ = ["SETTINGS", "Question", "Session", "SessionBusy"]
