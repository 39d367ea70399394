"""What an answer gives back: :class:`Reply` (and :class:`Interrupted` for Ctrl-C / Stop)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..core.events import Event, ReasoningDelta, TextDelta
from ..core.messages import Message, answer_of
from ..core.snapshot import ToolCall, TurnSnapshot
from ..core.status import STATUS_WORDS, ReplyStatus, Status
from ..core.usage import Usage
from ..errors import EvoMagicError
from .provenance import Asked, output_metadata

if TYPE_CHECKING:
    from ..core.options import RequestOptions


@dataclass
class Timing:
    """Monotonic timestamps of one request."""

    start: float
    first_token: float | None = None
    first_reasoning: float | None = None
    first_text: float | None = None
    end: float | None = None

    def mark(self, event: Event) -> None:
        now = time.monotonic()
        if self.first_token is None:
            self.first_token = now
        if isinstance(event, ReasoningDelta) and self.first_reasoning is None and event.text:
            self.first_reasoning = now
        elif isinstance(event, TextDelta) and self.first_text is None:
            self.first_text = now

    @property
    def elapsed(self) -> float:
        return (self.end or time.monotonic()) - self.start

    @property
    def ttft(self) -> float | None:
        return None if self.first_token is None else self.first_token - self.start

    @property
    def thinking_seconds(self) -> float | None:
        if self.first_reasoning is None:
            return None
        return (self.first_text or self.end or time.monotonic()) - self.first_reasoning


@dataclass
class Reply:
    """The answer to one request.

    ``text``, ``reasoning``, ``usage`` (:class:`~evo_magic.usage.Usage`: prompt, cache-hit,
    cache-miss, completion and reasoning tokens) and ``model`` (the model that answered) are
    the everyday fields; ``status`` is ``"ok"``, ``"length"``, ``"interrupted"``, ``"error"``
    or the API's incomplete finish reason.
    """

    snapshot: TurnSnapshot = field(repr=False)
    requested_model: str
    session: str
    timing: Timing = field(repr=False)
    status: ReplyStatus = "streaming"
    protocol: str = "openai"
    cell: Any = None
    error: EvoMagicError | None = field(default=None, repr=False)
    cost: Decimal | None = None
    priced: bool = False  # set by the ledger once it tried to price this request
    offline: bool = False  # answered by the bundled emulator: ``cost`` is what DeepSeek would charge
    ledger_request: int | None = field(default=None, repr=False)  # its ledger row, from the start
    data: Any = field(default=None, repr=False)  # parsed JSON in JSON mode
    rounds: list[Reply] = field(default_factory=list, repr=False)  # requests of a tool loop
    notes: list[str] = field(default_factory=list, repr=False)  # notices of the loop (the tool-call cap)
    thinking_open: bool = field(default=False, repr=False, compare=False)  # the fold the reader left it in
    request_key: str | None = field(default=None, repr=False)  # core.replay.request_key of its request
    cached: bool = False  # answered from the cache: no request, $0
    saved: Decimal | None = None  # what the cache saved (what asking again would have cost)
    price_from: datetime | None = field(default=None, repr=False)  # the price-table entry's date
    answered_at: datetime | None = field(default=None, repr=False)  # when a cached answer was first given
    asked: Asked | None = field(default=None, repr=False)  # its question, for the provenance
    options: RequestOptions | None = field(default=None, repr=False)  # what the request asked (None: restored)
    continues: Reply | None = field(default=None, repr=False)  # the answer cut at max_tokens this one continues

    def finish(self, status: Status, error: EvoMagicError | None) -> None:
        self.status = status
        self.error = error
        self.timing.end = time.monotonic()

    @property
    def text(self) -> str:
        return self.snapshot.text

    @property
    def reasoning(self) -> str:
        return self.snapshot.reasoning

    @property
    def usage(self) -> Usage | None:
        return self.snapshot.usage

    @property
    def model(self) -> str:
        return self.snapshot.model or self.requested_model

    @property
    def tool_calls(self) -> list[ToolCall]:
        return self.snapshot.tool_calls

    @property
    def finish_reason(self) -> str | None:
        return self.snapshot.finish_reason

    @property
    def id(self) -> str | None:
        return self.snapshot.id

    @property
    def choices(self) -> list[str]:
        """The text of every choice (``n`` > 1)."""
        return [self.snapshot.choices[i].text for i in sorted(self.snapshot.choices)]

    @property
    def requests(self) -> list[Reply]:
        """Every request of this answer, once each: the tool loop's ``rounds`` and, for a
        continued answer, the requests of the cut answer it ``continues``."""
        earlier = self.continues.requests if self.continues is not None else []
        seen = {id(r) for r in earlier}
        return [*earlier, *(r for r in (self.rounds or [self]) if id(r) not in seen)]

    @property
    def total_usage(self) -> Usage | None:
        """Usage summed over every request of the answer (``usage`` is the last one's)."""
        return Usage.total(r.usage for r in self.requests)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def notice(self) -> str | None:
        """The banner under the answer, as text: why it is incomplete (an answer cut at
        max_tokens says how, in words), then ``notes``."""
        from ..display.render import status_text

        return status_text(self.footer, answered=bool(self.text))

    def _status_notice(self) -> str | None:
        """Why the answer is incomplete, for the banner: the error's line or the status's
        sentence; None for a cut answer (the banner words it from the usage and the limit)."""
        if self.status == "error" and self.error is not None:
            return self.error.one_line()
        if self.status == "streaming":
            return None
        return STATUS_WORDS[self.status].notice

    @property
    def footer(self) -> Any:
        from ..display.render import Footer

        t = self.timing
        status = self.status if self.status != "streaming" else "ok"
        usage = self.usage
        if status == "length" and usage and usage.reasoning_tokens is None and self.reasoning and not self.text:
            usage = replace(usage, reasoning_tokens=usage.completion_tokens)  # no answer: all of it was thinking
        return Footer(
            model=self.model,
            usage=usage,
            elapsed=t.elapsed,
            ttft=t.ttft,
            thinking_seconds=t.thinking_seconds,
            cost=self.cost,
            priced=self.priced,
            offline=self.offline,
            status=status,
            message=self._status_notice(),
            max_tokens=self.options.max_tokens if self.options is not None else None,
            notes=" ".join(n for n in self.notes if n) or None,
            cached=self.cached,
            saved=self.saved,
        )

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        from ..display.render import render_reply_text

        return render_reply_text(self.snapshot, self.footer)

    def _repr_html_(self) -> str:
        from ..display.render import render_reply_html

        return render_reply_html(self.snapshot, self.footer, open_thinking=self.thinking_open)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
        """No data of its own (the HTML and text reprs give it): the output's metadata, where
        the answer came from (:mod:`~evo_magic.sessions.provenance`)."""
        return {}, output_metadata(self)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (kernel interrupt) or Stop while streaming; ``reply`` holds the partial answer.

    Its one traceback line is the only message of an interrupted cell (the answer above it has
    no banner): ``Interrupted: the partial answer (1,234 characters) and its thinking are kept
    above.`` ``shown`` is False when no live view showed the answer (the Python API)."""

    def __init__(self, reply: Reply, *, shown: bool = True):
        super().__init__("interrupted")
        self.reply = reply
        self.shown = shown

    def _render_traceback_(self) -> list[str]:
        return [interrupted_line(self.reply, shown=self.shown)]


def interrupted_line(reply: Reply, *, shown: bool = True) -> str:
    """What an interrupt kept, in one line."""
    where = "above" if shown else "in this exception's .reply"
    thinking = reply.reasoning.strip()
    calls = len(reply.tool_calls)
    if reply.text:
        kept = f"the partial answer ({len(reply.text):,} characters)"
    elif calls:
        kept = "the partial answer (a tool call)" if calls == 1 else f"the partial answer ({calls} tool calls)"
    elif thinking:
        size = f"{len(reply.reasoning):,} characters"
        return f"Interrupted while thinking: the thinking so far ({size}) is kept {where}; no answer yet."
    else:
        return "Interrupted: nothing had arrived yet."
    if thinking:
        return f"Interrupted: {kept} and its thinking are kept {where}."
    return f"Interrupted: {kept} is kept {where}."


@dataclass
class Turn:
    """One question and its answer, as shown by ``%deepseek history``."""

    prompt: str
    reply: Reply
    cell: Any = None  # the execution count shown as In[n]
    messages: list[Message] = field(default_factory=list)  # what this turn added to history
    cell_id: str | None = None  # the front end's cell id: re-running the cell replaces the turn
    ledger_id: int | None = None  # the ledger's request id of this turn (set by the accounting)

    @property
    def answer(self) -> str:
        """The answer the conversation goes on from (the picked choice after ``pick``)."""
        return answer_of(self.messages, self.reply.text)
