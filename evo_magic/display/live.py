"""The live view of an answer while it streams (IO: widget messages, display updates, stdout).

:func:`open_view` picks one of three views; all have ``update(snapshot)`` (called after every
stream event, so it must be cheap) and ``finish(snapshot, footer)`` (idempotent, also after an
error or an interrupt):

* :class:`WidgetView` (Jupyter front ends): an anywidget (``display/live.js``) builds the DOM
  once and receives small custom messages, coalesced to at most ~10 per second: finished
  markdown blocks once, the open tail as keep + append (:class:`~evo_magic.display.markdown.MarkdownStream`).
  The thinking ``<details>`` is never re-sent, so a reader who opens or folds it keeps it that
  way, and the waiting and thinking timers tick in the browser. ``finish`` replaces the widget
  by the final static HTML (what a saved notebook keeps), its thinking open or folded as the
  reader left it: the browser reports each click on its summary (``{"type": "fold", "open"}``).
  A cell's kernel hears that only once the cell is done, so the widget stays open for it
  (:class:`Lingering`: until ``LINGER`` later answers finished) and the final HTML is rendered
  again when it arrives.
* :class:`~evo_magic.display.terminal.TextView` (terminal IPython): the new characters go to
  ``sys.stdout``, the thinking dimmed when stdout is a terminal, then the status and footer lines.
* :class:`NullView`: shows nothing (Python API callers display the reply themselves).

Message protocol (kernel → browser; the browser only sends the reader's fold), one message per
coalesced update::

    {"phase"?: "thinking" | "answer", "t"?: seconds thought, "ops"?: [op, ...]}
    op = {"s": "think" | "answer", "m"?: moved, "c"?: [html, ...], "k": keep, "a": append}

ipywidgets and anywidget are imported only when a widget view opens.
"""

from __future__ import annotations

import functools
import logging
import sys
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeAlias, TypedDict

from .assets import asset_path, asset_text
from .markdown import DeltaMessage, MarkdownStream
from .render import (
    Footer,
    render_reply_html,
    render_reply_text,
    reply_css,
)
from .terminal import Pacer, TextView

if TYPE_CHECKING:
    import anywidget

    from ..core.snapshot import Phase, TurnSnapshot

__all__ = ["LINGER", "MIN_INTERVAL", "Lingering", "NullView", "TextView", "WidgetView", "open_view", "reply_bundle"]

logger = logging.getLogger(__name__)

MIN_INTERVAL = 0.1  # seconds between widget messages (~10 per second)
RENDER_SHARE = 3  # wait at least this many times the last render's cost before the next one
ViewMode: TypeAlias = Literal["auto", "widget", "text", "none"]
MODES: tuple[ViewMode, ...] = ("auto", "widget", "text", "none")
Stream: TypeAlias = Literal["think", "answer"]
#: The final mime bundle of a view, given the snapshot, the footer and the thinking's fold.
Bundle: TypeAlias = Callable[["TurnSnapshot", Footer, bool], dict[str, str]]


class LiveOp(DeltaMessage):  # a markdown delta of the thinking or the answer
    s: Stream


class LiveMessage(TypedDict, total=False):  # to display/live.js: see the module docstring
    phase: Phase
    t: float  # seconds thought, when the answer starts
    ops: list[LiveOp]
LINGER = 8  # finished cell answers whose widget stays open to hear the reader's fold choice


class Lingering:
    """The widgets of finished cell answers kept open to hear the reader's fold choice: at most
    ``limit``; the oldest is closed when one more comes (one per kernel, kept by its root)."""

    def __init__(self, limit: int = LINGER) -> None:
        self.limit = limit
        self.views: list[WidgetView] = []

    def add(self, view: WidgetView) -> None:
        self.views.append(view)
        while len(self.views) > self.limit:
            self.views.pop(0)._close()

    def release(self) -> int:
        """Close them all; how many there were."""
        released = len(self.views)
        while self.views:
            self.views.pop(0)._close()
        return released

    def close(self) -> None:
        self.release()


class Sender(Protocol):
    """The part of an anywidget a :class:`WidgetView` uses (tests pass a fake)."""

    def send(self, content: LiveMessage) -> None: ...

    def close(self) -> None: ...


class Handle(Protocol):
    """An IPython ``DisplayHandle``."""

    def update(self, obj: Any, **kwargs: Any) -> None: ...


def open_view(
    mode: ViewMode = "auto",
    *,
    model: str | None = None,
    as_json: bool = False,
    choices: int = 1,
    lingering: Lingering | None = None,
    bundle: Bundle | None = None,
) -> WidgetView | TextView | NullView:
    """A live view for one answer.

    ``mode`` is ``"widget"``, ``"text"``, ``"none"`` or ``"auto"``: widget in an IPython kernel,
    text in a terminal IPython, none outside IPython. ``model`` names the model in the
    waiting indicator; ``as_json`` ends on the answer as indented JSON (``-f json``);
    ``choices`` is how many were asked for (``-n``), each labelled; ``lingering`` keeps a
    finished widget open to hear the reader's fold choice; ``bundle`` makes the widget's final
    render (default: the answer's, :func:`reply_bundle`).
    """
    if mode == "auto":
        mode = auto_mode()
    if mode == "widget":
        return _open_widget_view(model, as_json, lingering, bundle)
    if mode == "text":
        return TextView(choices=choices)
    if mode == "none":
        return NullView()
    raise ValueError(f"unknown live view mode {mode!r}; expected one of {', '.join(MODES)}")


def reply_bundle(snapshot: TurnSnapshot, footer: Footer, *, as_json: bool = False, **html: Any) -> dict[str, str]:
    """The final mime bundle of an answer: static HTML (``html``: options of
    :func:`~evo_magic.display.render.render_reply_html`) and plain text (``as_json``: a JSON answer
    indented, shown once, in place of the streamed text)."""
    return {
        "text/html": render_reply_html(snapshot, footer, as_json=as_json, **html),
        "text/plain": render_reply_text(snapshot, footer, as_json=as_json),
    }


def auto_mode() -> Literal["widget", "text", "none"]:
    if "IPython" not in sys.modules:  # not imported: certainly not running inside IPython
        return "none"
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        return "none"
    kinds = {cls.__name__ for cls in type(shell).__mro__}
    return "widget" if "ZMQInteractiveShell" in kinds else "text"


class NullView:
    """Shows nothing while streaming; the caller displays the reply."""

    shows_answer = False

    def update(self, snapshot: TurnSnapshot) -> None:
        """Nothing to do."""

    def finish(self, snapshot: TurnSnapshot, footer: Footer) -> None:
        """Nothing to do."""


class WidgetView:
    """Streams an answer into an anywidget through small custom messages (see module doc).

    There is no timer thread: characters that arrive within ``interval`` of the last message go
    out with the next stream event after it, or with ``finish``. ``interval`` also stretches to
    three times the cost of the last render, so a huge open block cannot eat the kernel.
    """

    shows_answer = True

    def __init__(
        self,
        widget: Sender,
        handle: Handle | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        interval: float = MIN_INTERVAL,
        keep_open: bool = False,
        as_json: bool = False,
        lingering: Lingering | None = None,
        bundle: Bundle | None = None,
    ) -> None:
        self._widget = widget
        self._bundle = bundle
        self._lingering = lingering  # where a finished answer waits for the reader's fold (None: closed at once)
        self._as_json = as_json
        self._keep_open = keep_open  # the owner closes the widget (the panel, after its static render)
        self._handle = handle
        self._clock = clock
        self._pacer = Pacer(clock, interval, share=RENDER_SHARE)
        self._streams: dict[Stream, MarkdownStream] = {"think": MarkdownStream(), "answer": MarkdownStream()}
        self._thinking_since: float | None = None
        self._done = False
        self._reader: bool | None = None  # the fold the reader chose (None: never clicked)
        self._final: tuple[TurnSnapshot, Footer, bool] | None = None  # what finish rendered
        self._metadata: Mapping[str, Any] | None = None  # the final output's (its provenance)
        self._key = str(getattr(widget, "key", "") or "")
        on_msg = getattr(widget, "on_msg", None)
        if callable(on_msg):
            on_msg(self._on_msg)

    @property
    def thinking_open(self) -> bool:
        """The fold the reader sees: their choice, else open until the answer starts."""
        return self._reader if self._reader is not None else self._pacer.phases.current != "answer"

    def update(self, snapshot: TurnSnapshot) -> None:
        """Send what changed, at most every ``interval`` seconds; a phase change goes at once."""
        due = None if self._done else self._pacer.due(snapshot)
        if due is not None:
            self._flush(snapshot, *due)

    def annotate(self, metadata: Mapping[str, Any]) -> None:
        """The final output's metadata (the answer's provenance): given before :meth:`finish`,
        it goes out with the final render; given after, the final render goes out again with it."""
        self._metadata = dict(metadata)
        if self._final is not None and self._handle is not None:
            self._render()

    def finish(self, snapshot: TurnSnapshot, footer: Footer) -> None:
        """Flush, replace the widget's output by the final static render (with the metadata
        :meth:`annotate` gave); close the widget, or keep it open a while to hear the reader's
        fold choice (see the module doc)."""
        if self._done:
            return
        self._done = True
        linger = False  # the comm works and the final answer is shown: the reader's choice may follow
        try:
            try:
                self._flush(snapshot, self._clock(), self._pacer.phases.observe(snapshot))
                linger = self._handle is not None
            except Exception:  # the comm may be gone; the final render below still matters
                logger.debug("live view: last flush failed", exc_info=True)
            self._final = (snapshot, footer, self.thinking_open)
            if self._handle is not None:
                self._render()
        except BaseException:
            linger = False
            raise
        finally:
            if linger and not self._keep_open and self._lingering is not None:
                self._lingering.add(self)
            elif not self._keep_open:  # (kept open: the owner closes it, the panel after its render)
                self._close()

    def _render(self) -> None:
        assert self._final is not None and self._handle is not None
        snapshot, footer, _ = self._final
        self._final = (snapshot, footer, self.thinking_open)
        if self._bundle is not None:
            bundle = self._bundle(snapshot, footer, self.thinking_open)
        else:
            bundle = reply_bundle(
                snapshot, footer, as_json=self._as_json, open_thinking=self.thinking_open, live_key=self._key or None
            )
        if self._metadata:
            self._handle.update(bundle, raw=True, metadata=dict(self._metadata))
        else:
            self._handle.update(bundle, raw=True)

    def _on_msg(self, _widget: object, content: object, _buffers: object) -> None:
        if not isinstance(content, dict) or content.get("type") != "fold" or "open" not in content:
            return
        self._reader = bool(content["open"])
        if self._final is not None and self._handle is not None and self._final[2] != self._reader:
            try:  # heard after the cell ended: the final answer again, as the reader left it
                self._render()
            except Exception:
                logger.debug("live view: render after the reader's fold failed", exc_info=True)

    def _close(self) -> None:
        try:
            self._widget.close()
        except Exception:  # the kernel may be shutting down
            logger.debug("live view: closing the widget failed", exc_info=True)

    def _flush(self, snapshot: TurnSnapshot, now: float, phase: Phase | None) -> None:
        msg: LiveMessage = {}
        if phase is not None:
            msg["phase"] = phase
            if phase == "thinking":
                self._thinking_since = now
            elif self._thinking_since is not None:
                msg["t"] = round(now - self._thinking_since, 1)
        if self._pacer.phases.current != "waiting":
            ops: list[LiveOp] = []
            answer = snapshot.text + tool_calls_markdown(snapshot)
            sources: tuple[tuple[Stream, str], ...] = (("think", snapshot.reasoning), ("answer", answer))
            for name, source in sources:
                delta = self._streams[name].update(source)
                if delta.changed:
                    ops.append({"s": name, **delta.to_message()})
            if ops:
                msg["ops"] = ops
        if msg:
            self._widget.send(msg)
            self._pacer.sent(now)


def tool_calls_markdown(snapshot: TurnSnapshot) -> str:
    """Tool calls as they stream (name, then the arguments growing in a code block)."""
    calls = snapshot.tool_calls
    return "".join(f"\n\n**🔧 {c.name or '…'}**\n```json\n{c.arguments}\n```" for c in calls)


@functools.cache
def _widget_class() -> type[anywidget.AnyWidget]:
    """The anywidget class, defined on first use (anywidget and ipywidgets load here)."""
    import anywidget
    import traitlets

    class LiveAnswer(anywidget.AnyWidget):
        """Front end of :class:`WidgetView`: ``display/live.js``, fed by custom messages."""

        _esm = asset_path("display/live.js")
        _css = reply_css() + "\n" + asset_text("display/live.css")
        key = traitlets.Unicode("").tag(sync=True)  # finds the model's state in the ESM
        model_label = traitlets.Unicode("").tag(sync=True)

        def _repr_mimebundle_(self, **kwargs: Any) -> Any:
            bundle = super()._repr_mimebundle_(**kwargs)
            if bundle is not None:  # for front ends without widgets
                bundle[0]["text/plain"] = f"Waiting for {self.model_label or 'the model'}…"
            return bundle

    return LiveAnswer


def new_live_widget(model: str | None) -> anywidget.AnyWidget:
    """A fresh live-answer anywidget (not displayed) labelled with ``model``."""
    import uuid

    return _widget_class()(key=uuid.uuid4().hex, model_label=model or "")


def _open_widget_view(
    model: str | None, as_json: bool, lingering: Lingering | None, bundle: Bundle | None
) -> WidgetView:
    from IPython.display import display

    widget = new_live_widget(model)
    handle = display(widget, display_id=True)
    return WidgetView(widget, handle, as_json=as_json, lingering=lingering, bundle=bundle)
