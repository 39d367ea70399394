"""The thinking fold keeps the state the reader chose when the answer ends.

The live view (display/live.js) reports the reader's clicks on the thinking's summary as
``{"type": "fold", "open": bool}``; :class:`~evo_magic.display.live.WidgetView` renders the final static
answer with that state. A cell's kernel is busy until the cell ends, so there the choice is
heard late: the view then renders the final answer again, and stays open for that until
``LINGER`` later answers have finished.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evo_magic.core.events import ReasoningDelta, TextDelta
from evo_magic.core.snapshot import TurnSnapshot
from evo_magic.display import live
from evo_magic.display.live import WidgetView
from evo_magic.sessions.reply import Reply, Timing

from .test_live import Clock, FakeHandle, FakeWidget, footer, run_js

OPEN = '<details class="evo-thinking" open>'
FOLDED = '<details class="evo-thinking">'


LINGERING = live.Lingering()  # the kernel root's holder of finished widgets, for these tests


class Widget(FakeWidget):
    """A fake anywidget that also takes messages from the browser."""

    def __init__(self) -> None:
        super().__init__()
        self.key = "0123abcd" * 4
        self.handlers: list[Any] = []

    def on_msg(self, callback: Any) -> None:
        self.handlers.append(callback)

    def from_browser(self, content: Any) -> None:
        for callback in self.handlers:
            callback(self, content, [])


@pytest.fixture(autouse=True)
def no_lingering() -> Any:
    LINGERING.release()
    yield
    LINGERING.release()


def thinking(text: str = "") -> TurnSnapshot:
    snap = TurnSnapshot().apply(ReasoningDelta("Let me weigh *this*."))
    return snap.apply(TextDelta(text)) if text else snap


def html_of(handle: FakeHandle, i: int = -1) -> str:
    return str(handle.updates[i][0]["text/html"])


def test_the_readers_choice_shapes_the_final_answer() -> None:
    widget, handle = Widget(), FakeHandle()
    view = WidgetView(widget, handle, clock=Clock(), lingering=LINGERING)
    snap = thinking("The answer")
    view.update(snap)
    widget.from_browser({"type": "fold", "open": True})  # the reader opened it while it streamed
    view.finish(snap, footer(snap))
    assert OPEN in html_of(handle) and view.thinking_open is True
    assert f'data-evo-live="{widget.key}"' in html_of(handle)  # the browser finds it to keep the fold as is


def test_untouched_the_fold_is_what_the_live_view_showed() -> None:
    for snap, expected in ((thinking("The answer"), FOLDED), (thinking(), OPEN)):
        handle = FakeHandle()
        view = WidgetView(Widget(), handle, clock=Clock(), lingering=LINGERING)
        view.update(snap)
        view.finish(snap, footer(snap, status="interrupted"))
        assert expected in html_of(handle)  # folded once the answer started; open while still thinking


def test_other_messages_from_the_browser_change_nothing() -> None:
    widget, handle = Widget(), FakeHandle()
    view = WidgetView(widget, handle, clock=Clock(), lingering=LINGERING)
    for content in ({"type": "other", "open": True}, "fold", None, {"open": True}):
        widget.from_browser(content)
    snap = thinking("x")
    view.finish(snap, footer(snap))
    assert FOLDED in html_of(handle) and view.thinking_open is False


def test_a_choice_heard_after_the_cell_renders_the_answer_again() -> None:
    widget, handle = Widget(), FakeHandle()
    view = WidgetView(widget, handle, clock=Clock(), lingering=LINGERING)
    snap = thinking("The answer")
    view.finish(snap, footer(snap))
    assert FOLDED in html_of(handle) and widget.closed == 0  # kept open to hear the reader's choice
    widget.from_browser({"type": "fold", "open": True})  # queued behind the cell, heard now
    assert len(handle.updates) == 2 and OPEN in html_of(handle)
    widget.from_browser({"type": "fold", "open": True})  # nothing new: no render
    widget.from_browser({"type": "fold", "open": False})
    assert len(handle.updates) == 3 and FOLDED in html_of(handle)


def test_lingering_widgets_are_released_after_later_answers() -> None:
    first = Widget()
    WidgetView(first, FakeHandle(), clock=Clock(), lingering=LINGERING).finish(thinking("a"), footer(thinking("a")))
    for _ in range(live.LINGER - 1):
        WidgetView(Widget(), FakeHandle(), clock=Clock(), lingering=LINGERING).finish(thinking("b"), footer(thinking("b")))
    assert first.closed == 0
    WidgetView(Widget(), FakeHandle(), clock=Clock(), lingering=LINGERING).finish(thinking("c"), footer(thinking("c")))
    assert first.closed == 1  # the oldest goes once LINGER later answers wait


def test_a_view_without_display_or_with_a_broken_comm_is_released_at_once() -> None:
    keep = Widget()
    WidgetView(keep, None, clock=Clock(), lingering=LINGERING, keep_open=True).finish(thinking("a"), footer(thinking("a")))
    assert keep.closed == 0 and LINGERING.release() == 0  # the panel closes its own
    broken = Widget()
    broken.fail = True
    WidgetView(broken, FakeHandle(), clock=Clock(), lingering=LINGERING).finish(thinking("a"), footer(thinking("a")))
    assert broken.closed == 1


def test_reply_shows_its_thinking_as_the_reader_left_it() -> None:
    snap = thinking("The answer")
    reply = Reply(snap, "m", "default", Timing(0.0, end=1.0), status="ok")
    assert FOLDED in reply._repr_html_()
    reply.thinking_open = True
    assert OPEN in reply._repr_html_()


def test_js_front_end_reports_the_readers_clicks(tmp_path: Path) -> None:
    snap_messages = [
        {"phase": "thinking", "ops": [{"s": "think", "k": 0, "a": "<p>Hm</p>\n"}]},
        {"phase": "answer", "t": 1.0, "ops": [{"s": "answer", "k": 0, "a": "<p>Yes</p>\n"}]},
        {"ops": [{"s": "answer", "k": 7, "a": " more</p>\n"}]},
    ]
    result = run_js(snap_messages, [1, 2], tmp_path)  # opens it after the answer started, folds it again
    assert result["sent"] == [{"type": "fold", "open": True}, {"type": "fold", "open": False}]
    assert run_js(snap_messages, [], tmp_path)["sent"] == []  # the live view's own fold is not a choice
