"""The start of an answer, for the model to continue (prefix continuation; pure).

:func:`prefix_message` checks and builds the prefix of ``ask(prefix=..., prefix_reasoning=...)``;
:func:`seed` starts a reply's snapshot with a prefix, so the answer shown (live, final, text,
``-o``) and kept in the history is the prefix and its continuation: the server sends back only
what follows it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.events import Event, ReasoningDelta, TextDelta
from ..core.messages import Message
from ..errors import OptionError, scrub

if TYPE_CHECKING:
    from ..core.deltas import DeltaFilter
    from ..core.options import RequestOptions
    from ..core.snapshot import TurnSnapshot

__all__ = ["prefix_message", "seed"]


def prefix_message(prefix: object, reasoning: object, opts: RequestOptions) -> Message | None:
    """The assistant prefix of ``ask(prefix=..., prefix_reasoning=...)`` (None: no prefix),
    checked against the request's options; masked like a prompt."""
    if prefix is None:
        if reasoning is not None:
            raise OptionError('prefix_reasoning needs a prefix (--prefix; "" starts only the thinking)')
        return None
    if not isinstance(prefix, str) or not isinstance(reasoning, (str, type(None))):
        raise OptionError(f"a prefix is text, the start of the answer, not {type(prefix).__name__}")
    if not prefix and not reasoning:
        raise OptionError("the prefix is empty: give the start of the answer (--prefix TEXT)")
    if reasoning is not None and not opts.thinking_on:
        raise OptionError("prefix_reasoning (--prefix-reasoning) starts the thinking, which is off: drop one")
    if opts.tools:
        raise OptionError("a prefix starts the answer's text, which does not go with tools: drop --tools or --prefix")
    return Message.assistant_prefix(scrub(prefix), None if reasoning is None else scrub(reasoning))


def seed(snapshot: TurnSnapshot, prefix: Message, choices: int = 1, mask: DeltaFilter | None = None) -> None:
    """Start each choice of ``snapshot`` with ``prefix``: its thinking (signed blocks, else its
    reasoning) and its text. The seeded blocks take negative indexes, ahead of the response's
    own (0, 1, …), so each keeps its signature and the thinking reads in order. Through
    ``mask`` (the stream's secret mask): a cut answer that ends with the start of the key is
    masked once its continuation brings the rest."""
    events: list[Event] = []
    for choice in range(choices):
        if prefix.thinking:
            for i, block in enumerate(prefix.thinking):
                events.append(ReasoningDelta(block.text, block.signature, block=-1 - i, choice=choice))
        elif prefix.reasoning is not None:
            events.append(ReasoningDelta(prefix.reasoning, block=-1, choice=choice))
        if prefix.content:
            events.append(TextDelta(prefix.content, choice))
    for event in mask.feed(events) if mask is not None else events:
        snapshot.apply(event)
