"""Prefix continuation: an answer that starts with given text, and an answer cut at max_tokens
continued (DeepSeek's chat prefix completion; on the Anthropic protocol, a final assistant turn).

The request's last message is the assistant's start of the answer (:meth:`Message.assistant_prefix`
for ``ask(prefix=...)``, :meth:`Message.as_prefix` of the cut answer for ``continue_()``), sent
to ``%config DeepSeekMagics.prefix_path`` on the OpenAI protocol. The server sends back only
what follows; :func:`~evo_magic.sessions.prefix.seed` starts the reply's snapshot with the prefix, so the answer shown
(live, final, text, ``-o``) and kept in the history is the prefix and its continuation, one
assistant message, which the next request echoes whole (the prefix cache keeps hitting).

:func:`continue_turn` continues the session's last turn when it ended with
``finish_reason: "length"`` (its text, and its reasoning or signed thinking blocks, as the
prefix) and puts the continued answer in the place of the cut one: the same turn, whole. The
ledger keeps both requests; the turn moves to the continuation's row, so ``%deepseek
restore`` brings back the whole answer.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

from ..core.messages import Message
from ..errors import OptionError
from ..protocol import Reader, codec
from .host import AnswerEnded, Host, TurnAdded
from .reply import Reply, Turn

if TYPE_CHECKING:
    from ..core.options import RequestOptions
    from .request import Exchange, ViewFactory
    from .routes import Route

__all__ = ["Continuable", "continue_turn"]


class Continuable(Protocol):
    """What continuing needs of a :class:`~evo_magic.sessions.session.Session`."""

    name: str
    host: Host
    turns: list[Turn]

    @property
    def history(self) -> list[Message]: ...

    def options(self, **overrides: Any) -> RequestOptions: ...

    def exchange(
        self, opts: RequestOptions, reader: Reader, *, route: Route | None = None, prefix: Message | None = None
    ) -> AbstractContextManager[Exchange]: ...




def continue_turn(
    session: Continuable, *, max_tokens: int | None = None, views: ViewFactory, cell: object = None
) -> Reply:
    """Continue the last turn of ``session``, cut at max_tokens; the continued reply (see the
    module doc). Raises OptionError when there is nothing to continue, and the request's error
    (the cut turn kept as it was) when the continuation fails."""
    turn, prefix = _cut_turn(session)
    opts = _options(session, turn, max_tokens)
    proto = codec(opts.protocol)
    route = session.host.defaults.routes.prefix(opts.protocol)
    body = proto.build_body([*session.history[:-1], prefix], opts)
    with session.exchange(opts, proto, route=route, prefix=prefix) as exchange:
        reply = exchange.run(body, cell=cell, views=views, notes=[_said(prefix)])
        reply.continues = turn.reply  # its requests count in the turn's usage
        reply.rounds = [*turn.reply.rounds[:-1], reply]  # what a turn shows: the tool rounds, then the whole answer
        whole = None
        if reply.status in ("ok", "length") and session.turns and session.turns[-1] is turn:
            whole = _whole(turn, reply)
            session.turns[-1] = whole
    if whole is not None:
        session.host.emit(TurnAdded(session, whole, turn))  # the ledger moves the turn to this row
    session.host.emit(AnswerEnded(session, reply))
    return reply


def _cut_turn(session: Continuable) -> tuple[Turn, Message]:
    """The last turn, which must have been cut at max_tokens, and its answer as a prefix."""
    if not session.turns:
        raise OptionError(f"session {session.name!r} has no answer to continue (%deepseek continue rescues an "
                          "answer cut at max_tokens)")  # fmt: skip
    turn = session.turns[-1]
    if turn.reply.status != "length":
        ended = turn.reply.finish_reason or turn.reply.status
        raise OptionError(
            f"the last answer of session {session.name!r} was not cut at max_tokens (it ended with finish_reason "
            f"{ended!r}): there is nothing to continue"
        )
    try:
        return turn, turn.messages[-1].as_prefix()
    except ValueError as exc:
        raise OptionError(f"the last answer of session {session.name!r} cannot be continued: {exc}") from None


def _options(session: Continuable, turn: Turn, max_tokens: int | None) -> RequestOptions:
    """The cut request's options (a restored turn: its model, protocol and thinking), one
    choice, no tool call (the tools stay offered: the history may hold calls), the new limit."""
    opts = turn.reply.options
    if opts is None:
        last = turn.messages[-1]
        thinking = last.reasoning is not None or bool(last.thinking)
        opts = session.options(model=turn.reply.requested_model, protocol=turn.reply.protocol, thinking=thinking)
    opts = opts.replace(n=1, tool_choice="none" if opts.tools else None)
    if max_tokens is not None:
        opts = opts.replace(max_tokens=max_tokens)
    return opts.validate()


def _whole(turn: Turn, reply: Reply) -> Turn:
    """``turn`` with its answer continued by ``reply``: the same question, one assistant
    message (the cut text and the continuation), on the continuation's ledger row."""
    cut = turn.messages[-1]
    meta = {k: v for k, v in cut.meta.items() if k != "response_id"}  # the signature fallback: the newest id
    answer = Message.from_snapshot(reply.snapshot, **meta)
    return Turn(turn.prompt, reply, turn.cell, [*turn.messages[:-1], answer], turn.cell_id, reply.ledger_request)


def _said(prefix: Message) -> str:
    """The note under a continued answer: what was there before."""
    if prefix.content:
        return f"Continued an answer cut at max_tokens: its first {len(prefix.content):,} characters were there."
    thought = len(prefix.reasoning or "")
    return f"Continued an answer cut at max_tokens while thinking ({thought:,} characters of thinking were there)."
