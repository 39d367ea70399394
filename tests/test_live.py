"""The live view's logic with a fake widget and a fake clock (no front end)."""

from __future__ import annotations

import io
import json

from evo_magic.events import Finished, ReasoningDelta, TextDelta, UsageReported
from evo_magic.live import MIN_INTERVAL, TextView, WidgetView, open_view
from evo_magic.render import Footer, render_markdown
from evo_magic.snapshot import TurnSnapshot
from evo_magic.usage import Usage


class FakeWidget:
    def __init__(self) -> None:
        self.sent: list[dict] = []
        self.closed = False

    def send(self, msg: dict) -> None:
        self.sent.append(json.loads(json.dumps(msg)))

    def close(self) -> None:
        self.closed = True


class FakeHandle:
    def __init__(self) -> None:
        self.updates: list[dict] = []

    def update(self, bundle: dict, raw: bool = False) -> None:
        self.updates.append(bundle)


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def answer_markdown(scale: int) -> str:
    parts = []
    for i in range(scale):
        parts.append(f"## Part {i}\n\nSome text about part {i} with **bold** words.\n\n")
        parts.append("".join(f"- item {i}.{j} with a few words\n" for j in range(5)) + "\n")
        parts.append("```python\n" + "".join(f"x_{j} = {j} * {i}\n" for j in range(6)) + "```\n\n")
        parts.append(f"| k | v |\n|---|---|\n| {i} | {i * 2} |\n\n")
    return "".join(parts)


def stream_through(view: WidgetView, clock: Clock, reasoning: str, text: str, chunk: int = 4, rate: float = 1000):
    snap = TurnSnapshot()
    for i in range(0, len(reasoning), chunk):
        snap.apply(ReasoningDelta(reasoning[i : i + chunk]))
        clock.t += 1 / rate
        view.update(snap)
    for i in range(0, len(text), chunk):
        snap.apply(TextDelta(text[i : i + chunk]))
        clock.t += 1 / rate
        view.update(snap)
    snap.apply(UsageReported(Usage(10, 0, 10, 5, 2)))
    snap.apply(Finished("stop"))
    return snap


def run(scale: int) -> tuple[FakeWidget, FakeHandle, WidgetView, float, str]:
    widget, handle, clock = FakeWidget(), FakeHandle(), Clock()
    view = WidgetView("deepseek-v4-flash", clock=clock, widget=widget, display=lambda *a, **k: handle)
    text = answer_markdown(scale)
    snap = stream_through(view, clock, "Let me think about this carefully. " * (20 * scale), text)
    view.update(snap, force=True)  # the last coalesced state, as a flush would send it
    view.finish(snap, Footer("deepseek-v4-flash", snap.usage, clock.t))
    return widget, handle, view, clock.t, text


def test_updates_are_coalesced_and_thinking_never_resent() -> None:
    widget, handle, _view, duration, _ = run(4)
    assert len(widget.sent) <= duration / MIN_INTERVAL + 4
    assert widget.sent[0]["p"] == "thinking"
    assert any(m.get("p") == "answer" for m in widget.sent)
    assert all("<details" not in json.dumps(m) for m in widget.sent)
    assert widget.closed and "<details" in handle.updates[-1]["text/html"]
    assert "text/plain" in handle.updates[-1]


def test_bytes_grow_linearly_with_the_answer() -> None:
    small = run(4)
    large = run(16)
    b_small, b_large = small[2].bytes_sent, large[2].bytes_sent
    chars_small = len(small[4]) + len("Let me think about this carefully. ") * 80
    assert b_large / b_small <= 4.6, (b_small, b_large)
    assert b_large / (len(large[4]) + len("Let me think about this carefully. ") * 320) <= 3.0
    assert chars_small > 0


def test_replaying_payloads_reproduces_the_answer() -> None:
    widget, _, _, _, text = run(3)
    blocks, tail = [], ""
    for msg in widget.sent:
        a = msg.get("a")
        if a:
            blocks.extend(a.get("c", []))
            tail = tail.encode("utf-16-le")[: 2 * a["k"]].decode("utf-16-le") + a["a"]
    assert "".join(blocks) + tail == render_markdown(text)


def test_finish_is_idempotent_and_safe_after_errors() -> None:
    widget, handle = FakeWidget(), FakeHandle()
    view = WidgetView("m", widget=widget, display=lambda *a, **k: handle)
    snap = TurnSnapshot().apply(TextDelta("partial"))
    f = Footer("m", None, 1.0, status="interrupted", message="Interrupted — the partial answer is kept.")
    view.finish(snap, f)
    view.finish(snap, f)
    view.update(snap)
    assert len(handle.updates) == 1 and "Interrupted" in handle.updates[0]["text/html"]


def test_text_view_streams_new_characters_only() -> None:
    out = io.StringIO()
    view = TextView(out)
    snap = TurnSnapshot()
    for piece in ("Hel", "lo"):
        snap.apply(TextDelta(piece))
        view.update(snap)
    view.finish(snap.apply(Finished("stop")), Footer("m", None, 0.5))
    assert out.getvalue().startswith("Hello\n— m") and "\x1b[" not in out.getvalue()


def test_open_view_outside_ipython_is_silent() -> None:
    view = open_view("auto")
    assert view.shows_answer is False
