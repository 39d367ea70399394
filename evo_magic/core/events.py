"""Typed stream events: what every protocol parser produces (pure).

Both protocols (OpenAI Chat Completions and Anthropic Messages) map their wire events onto
this one union, so the session, renderers, panel and ledger never ask which protocol ran.
``choice`` is the index of the completion choice (``n`` > 1 on the OpenAI protocol).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn, TypeAlias

from ..errors import EvoMagicError
from .usage import Usage


@dataclass(frozen=True)
class ResponseStarted:
    """Identity of the response: its id and the model that actually answers."""

    id: str | None
    model: str | None


@dataclass(frozen=True)
class TextDelta:
    text: str
    choice: int = 0


@dataclass(frozen=True)
class ReasoningDelta:
    """A piece of the model's thinking. ``signature`` (Anthropic protocol) seals the
    thinking block ``block``; it may arrive with empty text."""

    text: str
    signature: str | None = None
    block: int = 0
    choice: int = 0


@dataclass(frozen=True)
class ToolCallDelta:
    """A fragment of tool call ``index``: the first carries id and name, later ones only
    argument text. ``None`` means "no update"."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""
    choice: int = 0


@dataclass(frozen=True)
class LogprobsDelta:
    """Token log-probabilities for answer tokens (the vendor's entries, as sent: untrusted)."""

    content: tuple[object, ...]
    choice: int = 0


@dataclass(frozen=True)
class UsageReported:
    """Usage of the whole request. ``partial`` usages (Anthropic: input first, output at
    the end) merge; a full one replaces what was there."""

    usage: Usage
    partial: bool = False


@dataclass(frozen=True)
class Finished:
    """The choice ended; ``reason`` is the protocol's value normalized to the OpenAI names
    (stop, length, tool_calls, content_filter, insufficient_system_resource, ...)."""

    reason: str
    choice: int = 0
    stop_sequence: str | None = None


@dataclass(frozen=True)
class StreamFailed:
    """An error inside a 200 stream (``data: {"error": ...}``, ``event: error``, or a
    malformed event)."""

    error: EvoMagicError


Event: TypeAlias = (
    ResponseStarted
    | TextDelta
    | ReasoningDelta
    | ToolCallDelta
    | LogprobsDelta
    | UsageReported
    | Finished
    | StreamFailed
)


def assert_never(value: NoReturn) -> NoReturn:
    """The exhaustiveness guard of a ``match`` over an event union (``typing.assert_never``,
    which Python 3.10 lacks): mypy reports a case left out, and at run time it raises."""
    raise AssertionError(f"unhandled event {value!r}")
