"""The live view of an answer in a terminal IPython (IO: stdout).

:class:`TextView` writes the new characters as they arrive, the thinking dimmed when stdout is
a terminal, then the status and footer lines; control characters in model output are dropped.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from .render import Footer, choice_heading, footer_text, sanitize_text, status_text

if TYPE_CHECKING:
    from ..core.snapshot import Phase, TurnSnapshot

TEXT_INTERVAL = 0.05  # seconds between stdout flushes (~20 per second)


class Phases:
    """waiting → thinking → answer, read cheaply: the snapshot joins its text lazily, and the
    text (or reasoning) checked here is empty until the phase changes."""

    def __init__(self) -> None:
        self.current: Phase = "waiting"

    def observe(self, snapshot: TurnSnapshot) -> Phase | None:
        """The new phase when it changed, else None."""
        if self.current == "answer":
            return None
        if snapshot.text or snapshot.tool_calls:
            self.current = "answer"
        elif self.current == "waiting" and snapshot.reasoning:
            self.current = "thinking"
        else:
            return None
        return self.current


class Pacer:
    """When a live view sends next: a phase change at once, else ``interval`` after the last
    send, or ``share`` times that send's cost when longer (so a costly render cannot eat the
    kernel). There is no timer: what arrives meanwhile goes out with a later update."""

    def __init__(self, clock: Callable[[], float], interval: float, share: float = 0.0) -> None:
        self.phases = Phases()
        self._clock = clock
        self._interval = interval
        self._share = share
        self._next = -math.inf  # clock time of the next allowed send

    def due(self, snapshot: TurnSnapshot) -> tuple[float, Phase | None] | None:
        """``(now, the new phase or None)`` when the view should send now, else None."""
        phase = self.phases.observe(snapshot)
        now = self._clock()
        if phase is None and now < self._next:
            return None
        return now, phase

    def sent(self, at: float) -> None:
        """A send that began at clock time ``at`` has ended."""
        cost = self._clock() - at if self._share else 0.0
        self._next = at + max(self._interval, self._share * cost)


class TextView:
    """Terminal IPython: new characters to ``out`` (stdout) as they arrive, then the footer.

    The thinking is dimmed and status lines coloured only when ``out`` is a terminal. Control
    characters in model output are dropped. ``out`` is flushed at most every ``interval``.
    With ``choices`` > 1, the first choice streams under its label and the others follow,
    labelled alike, before the one footer.
    """

    shows_answer = True

    def __init__(
        self,
        out: TextIO | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        interval: float = TEXT_INTERVAL,
        color: bool | None = None,
        choices: int = 1,
    ) -> None:
        self._out = out if out is not None else sys.stdout
        self._choices = choices
        self._labelled = choices <= 1
        if color is None:
            isatty = getattr(self._out, "isatty", None)
            color = bool(isatty()) if callable(isatty) else False
        self._color = color
        self._pacer = Pacer(clock, interval)
        self._reasoning = 0  # characters written
        self._text = 0
        self._done = False

    def update(self, snapshot: TurnSnapshot) -> None:
        """Write the new characters (at most every ``interval``; a phase change at once)."""
        due = None if self._done else self._pacer.due(snapshot)
        if due is None:
            return
        self._pacer.sent(due[0])
        if self._write_new(snapshot):
            self._out.flush()

    def finish(self, snapshot: TurnSnapshot, footer: Footer) -> None:
        """Write the rest, tool calls, the status line and the footer line."""
        if self._done:
            return
        self._done = True
        self._write_new(snapshot)
        for call in snapshot.tool_calls:
            self._out.write(sanitize_text(f"\n[tool call] {call.name or '?'}({call.arguments})"))
        total = max(self._choices, len(snapshot.choices))
        for index in sorted(i for i in snapshot.choices if i):  # the other choices, labelled like the first
            self._out.write(f"\n\n{self._style(choice_heading(index, total), '1')}\n")
            self._out.write(sanitize_text(snapshot.choice(index).text.strip("\n")))
        status = status_text(footer)
        if status:
            code = "31" if footer.status == "error" else "33"
            self._out.write("\n" + self._style(sanitize_text(f"[{status}]"), code))
        self._out.write("\n" + self._style(footer_text(footer), "2") + "\n")
        self._out.flush()

    def _style(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self._color and text else text

    def _write_new(self, snapshot: TurnSnapshot) -> bool:
        wrote = False
        if not self._labelled and (snapshot.reasoning or snapshot.text):
            self._labelled = True
            self._out.write(self._style(choice_heading(0, self._choices), "1") + "\n")
        if self._text == 0:  # the thinking is shown until the answer starts
            reasoning = snapshot.reasoning
            if len(reasoning) > self._reasoning:
                if self._reasoning == 0:
                    self._out.write(self._style("Thinking…", "2;3") + "\n")
                self._out.write(self._style(sanitize_text(reasoning[self._reasoning :]), "2"))
                self._reasoning = len(reasoning)
                wrote = True
        text = snapshot.text
        if len(text) > self._text:
            if self._text == 0 and self._reasoning:
                self._out.write("\n\n")
            self._out.write(sanitize_text(text[self._text :]))
            self._text = len(text)
            wrote = True
        return wrote


__all__ = ["TEXT_INTERVAL", "Pacer", "Phases", "TextView"]
