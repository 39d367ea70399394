"""The live view of an answer while it streams (IO: display messages, widgets, stdout).

* ``widget`` (Jupyter front ends): an anywidget whose front end builds the DOM once and
  receives small custom messages — finished markdown blocks once, the open tail as a delta —
  so the bytes sent grow linearly with the answer and the thinking ``<details>`` is never
  re-rendered (a reader who opens or folds it keeps it that way). Updates are coalesced to at
  most ~10 per second. At the end the display is replaced by the final static HTML, which is
  what a saved notebook keeps.
* ``text`` (terminal IPython): new characters are written to stdout as they arrive.
* ``none``: nothing is shown while streaming (the caller displays the reply).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .render import (
    Footer,
    MarkdownStream,
    footer_text,
    render_reply_html,
    render_reply_text,
    tool_calls_markdown,
)

MIN_INTERVAL = 0.1  # seconds between display updates (~10 per second)
_STATIC = Path(__file__).parent / "static"
_widget_class: Any = None


def _live_widget_class() -> Any:
    global _widget_class
    if _widget_class is None:
        import anywidget
        import traitlets

        class LiveAnswer(anywidget.AnyWidget):
            _esm = _STATIC / "live.js"
            model = traitlets.Unicode("").tag(sync=True)

        _widget_class = LiveAnswer
    return _widget_class


def _in_kernel() -> str:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return "none"
    shell = get_ipython()
    if shell is None:
        return "none"
    return "widget" if type(shell).__name__ == "ZMQInteractiveShell" else "text"


def open_view(mode: str = "auto", *, model: str | None = None, clock: Callable[[], float] = time.monotonic) -> Any:
    """A view for one answer: ``auto`` picks widget in a kernel, text in a terminal."""
    if mode == "auto":
        mode = _in_kernel()
    if mode == "widget":
        return WidgetView(model or "", clock=clock)
    if mode == "text":
        return TextView(sys.stdout)
    return NullView()


class NullView:
    shows_answer = False

    def update(self, snapshot: Any) -> None:
        pass

    def finish(self, snapshot: Any, footer: Footer) -> None:
        pass


class WidgetView:
    """Streams into an anywidget; ``send`` and ``display`` are injectable for tests."""

    shows_answer = True

    def __init__(
        self,
        model: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        widget: Any = None,
        display: Callable[..., Any] | None = None,
    ):
        self._clock = clock
        self._think = MarkdownStream()
        self._answer = MarkdownStream()
        self._phase = "waiting"
        self._last_send = -1e9
        self._done = False
        self.messages_sent = 0
        self.bytes_sent = 0
        if widget is None:
            widget = _live_widget_class()(model=model)
        self._widget = widget
        if display is None:
            from IPython.display import display as ipython_display

            display = ipython_display
        self._handle = display(widget, display_id=True)

    def update(self, snapshot: Any, *, force: bool = False) -> None:
        if self._done:
            return
        phase = self._phase
        if snapshot.text or snapshot.tool_calls:
            phase = "answer"
        elif snapshot.reasoning:
            phase = "thinking"
        changed = phase != self._phase
        now = self._clock()
        if not (force or changed or now - self._last_send >= MIN_INTERVAL):
            return
        msg: dict[str, Any] = {}
        if changed:
            msg["p"] = phase
            self._phase = phase
        think = self._think.update(snapshot.reasoning)
        if think is not None:
            msg["t"] = think.payload()
        answer = self._answer.update(snapshot.text + tool_calls_markdown(snapshot))
        if answer is not None:
            msg["a"] = answer.payload()
        if msg:
            self._send(msg)
            self._last_send = now

    def _send(self, msg: dict[str, Any]) -> None:
        import json

        self.messages_sent += 1
        self.bytes_sent += len(json.dumps(msg))
        self._widget.send(msg)

    def finish(self, snapshot: Any, footer: Footer) -> None:
        """Replace the live widget by the final static render; release the widget."""
        if self._done:
            return
        self._done = True
        bundle = {
            "text/html": render_reply_html(snapshot, footer),
            "text/plain": render_reply_text(snapshot, footer),
        }
        try:
            if self._handle is not None:
                self._handle.update(bundle, raw=True)
        finally:
            close = getattr(self._widget, "close", None)
            if close is not None:
                close()


class TextView:
    """Terminal IPython: write new characters as they arrive, then the footer."""

    shows_answer = True

    def __init__(self, stream: Any):
        self._out = stream
        self._reasoning = 0
        self._text = 0
        self._done = False
        self._tty = bool(getattr(stream, "isatty", lambda: False)())

    def _style(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self._tty else text

    def update(self, snapshot: Any) -> None:
        if self._done:
            return
        reasoning, text = snapshot.reasoning, snapshot.text
        if len(reasoning) > self._reasoning:
            if self._reasoning == 0:
                self._out.write(self._style("Thinking…\n", "2;3"))
            self._out.write(self._style(reasoning[self._reasoning :], "2"))
            self._reasoning = len(reasoning)
        if len(text) > self._text:
            if self._text == 0 and self._reasoning:
                self._out.write("\n\n")
            self._out.write(text[self._text :])
            self._text = len(text)
        self._out.flush()

    def finish(self, snapshot: Any, footer: Footer) -> None:
        if self._done:
            return
        self.update(snapshot)
        self._done = True
        for call in snapshot.tool_calls:
            self._out.write(f"\n[tool call] {call.name}({call.arguments})")
        if footer.status != "ok" and footer.message:
            self._out.write("\n" + self._style(f"[{footer.message}]", "33"))
        self._out.write("\n" + self._style(f"— {footer_text(footer)}", "2") + "\n")
        self._out.flush()
