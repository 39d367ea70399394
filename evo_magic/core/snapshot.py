"""Fold events into a turn snapshot (pure).

``TurnSnapshot.apply(event)`` is the one fold; :func:`accumulate` runs it over an iterable.
Text is kept as lists of parts and joined on demand, so a 100k-character answer in 25k
deltas costs linear time. Renderers, the panel and the session read snapshots and keep no
copy of their own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal, TypeAlias, TypedDict

from ..errors import EvoMagicError
from .events import (
    Event,
    Finished,
    LogprobsDelta,
    ReasoningDelta,
    ResponseStarted,
    StreamFailed,
    TextDelta,
    ToolCallDelta,
    UsageReported,
)
from .usage import Usage

#: Where the answer of choice 0 is: nothing yet, thinking, or answering (text or a tool call).
Phase: TypeAlias = Literal["waiting", "thinking", "answer"]


class ToolCallRecord(TypedDict):
    """:meth:`ToolCall.to_dict`: a tool call as JSON (kept in the history and the ledger)."""

    index: int
    id: str
    name: str
    arguments: str


@dataclass
class ToolCall:
    """One tool call as assembled from its fragments."""

    index: int
    id: str = ""
    name: str = ""
    arguments: str = ""

    def parsed_arguments(self) -> object:
        """The arguments as JSON; raises ValueError when the model sent invalid JSON."""
        return json.loads(self.arguments) if self.arguments.strip() else {}

    def to_dict(self) -> ToolCallRecord:
        return {"index": self.index, "id": self.id, "name": self.name, "arguments": self.arguments}


@dataclass
class ThinkingBlock:
    text: str = ""
    signature: str | None = None


class _Parts:
    """An append-only string with O(1) appends and a cached join."""

    __slots__ = ("_joined", "_parts")

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._joined: str | None = ""

    def add(self, text: str) -> None:
        if text:
            self._parts.append(text)
            self._joined = None

    def __str__(self) -> str:
        if self._joined is None:
            self._joined = "".join(self._parts)
            self._parts = [self._joined]
        return self._joined

    def __len__(self) -> int:
        return len(str(self))

    def __bool__(self) -> bool:
        """Non-empty, in O(1) (no join)."""
        return bool(self._parts) and (self._joined is None or bool(self._joined))


@dataclass
class ChoiceSnapshot:
    index: int
    _text: _Parts = field(default_factory=_Parts, repr=False)
    _blocks: dict[int, tuple[_Parts, list[str | None]]] = field(default_factory=dict, repr=False)
    tool_calls: dict[int, ToolCall] = field(default_factory=dict)
    logprobs: list[object] = field(default_factory=list)
    finish_reason: str | None = None
    stop_sequence: str | None = None

    @property
    def text(self) -> str:
        return str(self._text)

    @property
    def reasoning(self) -> str:
        return "".join(str(parts) for parts, _ in self._blocks.values())

    @property
    def thinking_blocks(self) -> list[ThinkingBlock]:
        return [ThinkingBlock(str(p), sig[0]) for p, sig in self._blocks.values()]

    @property
    def text_started(self) -> bool:
        """Any answer text yet (O(1), for hot paths)."""
        return bool(self._text)

    @property
    def has_reasoning(self) -> bool:
        """True when the model sent any thinking at all (even an empty reasoning_content)."""
        return bool(self._blocks)

    def ordered_tool_calls(self) -> list[ToolCall]:
        return [self.tool_calls[i] for i in sorted(self.tool_calls)]


class TurnSnapshot:
    """Everything known about one response so far."""

    def __init__(self) -> None:
        self.id: str | None = None
        self.model: str | None = None
        self.usage: Usage | None = None
        self.error: EvoMagicError | None = None
        self.choices: dict[int, ChoiceSnapshot] = {}
        self.events = 0

    # --- the fold -----------------------------------------------------------------------
    def choice(self, index: int = 0) -> ChoiceSnapshot:
        found = self.choices.get(index)
        if found is None:
            found = self.choices[index] = ChoiceSnapshot(index)
        return found

    def apply(self, event: Event) -> TurnSnapshot:
        self.events += 1
        match event:
            case ResponseStarted(id=rid, model=model):
                self.id = rid or self.id
                self.model = model or self.model
            case TextDelta(text=text, choice=c):
                self.choice(c)._text.add(text)
            case ReasoningDelta(text=text, signature=sig, block=b, choice=c):
                blocks = self.choice(c)._blocks
                entry = blocks.get(b)
                if entry is None:
                    entry = blocks[b] = (_Parts(), [None])
                entry[0].add(text)
                if sig is not None:
                    entry[1][0] = (entry[1][0] or "") + sig
            case ToolCallDelta(index=i, id=cid, name=name, arguments=args, choice=c):
                calls = self.choice(c).tool_calls
                call = calls.get(i)
                if call is None:
                    call = calls[i] = ToolCall(i)
                if cid:
                    call.id = cid
                if name:
                    call.name = name
                call.arguments += args
            case LogprobsDelta(content=content, choice=c):
                self.choice(c).logprobs.extend(content)
            case UsageReported(usage=usage, partial=partial):
                self.usage = self.usage.merged(usage) if (partial and self.usage) else usage
            case Finished(reason=reason, choice=c, stop_sequence=seq):
                ch = self.choice(c)
                ch.finish_reason = reason
                ch.stop_sequence = seq
            case StreamFailed(error=error):
                self.error = error
            case _:  # pragma: no cover - exhaustiveness guard
                raise TypeError(f"unknown event {event!r}")
        return self

    # --- shortcuts to choice 0 ----------------------------------------------------------
    @property
    def text(self) -> str:
        return self.choice(0).text

    @property
    def reasoning(self) -> str:
        return self.choice(0).reasoning

    @property
    def tool_calls(self) -> list[ToolCall]:
        return self.choice(0).ordered_tool_calls()

    @property
    def finish_reason(self) -> str | None:
        return self.choice(0).finish_reason

    @property
    def phase(self) -> Phase:
        """"waiting", "thinking" or "answer" for choice 0, in O(1) (no string joins)."""
        ch = self.choices.get(0)
        if ch is None:
            return "waiting"
        if ch.text_started or ch.tool_calls:
            return "answer"
        if any(parts for parts, _ in ch._blocks.values()):
            return "thinking"
        return "waiting"

    @property
    def complete(self) -> bool:
        """A finish reason arrived for every choice and no error was reported."""
        return (
            self.error is None
            and bool(self.choices)
            and all(c.finish_reason for c in self.choices.values())
        )


def accumulate(events: Iterable[Event], snapshot: TurnSnapshot | None = None) -> TurnSnapshot:
    snap = snapshot or TurnSnapshot()
    for event in events:
        snap.apply(event)
    return snap
