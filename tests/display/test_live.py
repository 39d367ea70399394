"""The live view's logic with a fake widget, a fake display handle and a fake clock.

The browser side (display/live.js) is exercised in Node with a tiny DOM stand-in when Node is
installed; the message replay below is its Python twin.
"""

from __future__ import annotations

import io
import json
import random
import sys
from pathlib import Path
from typing import Any

import pytest

from evo_magic.core.events import Finished, ReasoningDelta, TextDelta, ToolCallDelta, UsageReported
from evo_magic.core.snapshot import TurnSnapshot, accumulate
from evo_magic.core.usage import Usage
from evo_magic.display import live
from evo_magic.display.live import MIN_INTERVAL, NullView, TextView, WidgetView, open_view
from evo_magic.display.markdown import MarkdownStream, render_markdown
from evo_magic.display.render import Footer
from evo_magic.sessions.reply import Reply, Timing

from .helpers import FOOTER, PYTHON, Clock, FakeHandle, FakeWidget, footer, run_js, three_choices

CHARS_PER_SECOND = 1000  # a fast model: 1,000 characters a second in deltas of 1-8


LINGERING = live.Lingering()  # the kernel root's holder of finished widgets, for these tests


def reasoning_text(scale: int) -> str:
    return "".join(f"Step {i}: weigh the *options* and check the edge cases again.\n\n" for i in range(12 * scale))


def answer_text(scale: int) -> str:
    parts = []
    for i in range(scale):
        parts.append(
            f"## Part {i}\n\nThis explains part {i} with **bold**, `code` and [a link](https://x.org/{i}).\n\n"
        )
        parts.append("".join(f"- item {i}.{j}: a list entry of several words\n" for j in range(12)) + "\n")
        parts.append("```python\n" + "".join(f"value_{j} = compute({j}, {i})  # step\n" for j in range(15)) + "```\n\n")
        parts.append("| key | value |\n|---|---|\n" + "".join(f"| k{j} | {j * i} |\n" for j in range(8)) + "\n")
    # one block growing with the answer: a long code fence, a long list, a long list item
    parts.append(
        "```python\n" + "".join(f"row_{j} = fetch({j}) or default  # {j}\n" for j in range(40 * scale)) + "```\n\n"
    )
    parts.append("".join(f"{j}. point {j}: a numbered list entry\n" for j in range(1, 30 * scale)) + "\n")
    parts.append("- " + " ".join(f"word{j}" for j in range(300 * scale)) + "\n")
    return "".join(parts)


def feed(view: Any, clock: Clock, reasoning: str, text: str, seed: int = 1) -> TurnSnapshot:
    """Stream reasoning then text in deltas of 1-8 characters, as a session would."""
    rng = random.Random(seed)
    snap = TurnSnapshot()
    for source, event in ((reasoning, ReasoningDelta), (text, TextDelta)):
        i = 0
        while i < len(source):
            n = rng.randint(1, 8)
            snap.apply(event(source[i : i + n]))
            i += n
            clock.now += n / CHARS_PER_SECOND
            view.update(snap)
    snap.apply(UsageReported(Usage(100, 64, 36, 50, 20)))
    return snap.apply(Finished("stop"))


def run(scale: int) -> tuple[FakeWidget, FakeHandle, float, str, str]:
    widget, handle, clock = FakeWidget(), FakeHandle(), Clock()
    view = WidgetView(widget, handle, clock=clock, lingering=LINGERING)
    start = clock.now
    reasoning, text = reasoning_text(scale), answer_text(scale)
    snap = feed(view, clock, reasoning, text)
    view.finish(snap, footer(snap))
    return widget, handle, clock.now - start, reasoning, text


def replay(messages: list[dict[str, Any]]) -> dict[str, str]:
    """What display/live.js does with the messages (tail indexes in UTF-16 code units)."""
    sections = {"think": ([], ""), "answer": ([], "")}
    for msg in messages:
        for op in msg.get("ops", []):
            blocks, tail = sections[op["s"]]
            units = tail.encode("utf-16-le", "surrogatepass")
            moved = op.get("m", 0)
            if moved:
                blocks.append(units[: 2 * moved].decode("utf-16-le", "surrogatepass"))
                units = units[2 * moved :]
            blocks.extend(op.get("c", []))
            tail = (units[: 2 * op["k"]] + op["a"].encode("utf-16-le", "surrogatepass")).decode("utf-16-le", "surrogatepass")
            sections[op["s"]] = (blocks, tail)
    return {name: "".join(blocks) + tail for name, (blocks, tail) in sections.items()}


@pytest.fixture(scope="module")
def runs() -> dict[int, tuple[FakeWidget, FakeHandle, float, str, str]]:
    return {1: run(1), 4: run(4)}


def test_updates_are_coalesced_to_ten_a_second(runs: dict) -> None:
    for widget, _, duration, _, _ in runs.values():
        assert len(widget.sent) <= duration / MIN_INTERVAL + 4, (len(widget.sent), duration)


def test_bytes_grow_linearly_and_stay_small(runs: dict) -> None:
    small, large = runs[1], runs[4]
    chars_small = len(small[3]) + len(small[4])
    chars_large = len(large[3]) + len(large[4])
    assert chars_large / chars_small == pytest.approx(4, rel=0.05)
    assert large[0].bytes / small[0].bytes <= 4.6
    for widget, _, _, reasoning, text in runs.values():
        # what is sent stays close to the HTML it builds (a code block goes out plain while it is
        # written, then once highlighted when it is finished)
        assert widget.bytes <= 2 * (len(render_markdown(text)) + len(render_markdown(reasoning)))


def test_replayed_messages_rebuild_the_rendered_answer_and_thinking(runs: dict) -> None:
    for widget, _, _, reasoning, text in runs.values():
        shown = replay(widget.messages)
        assert shown["answer"] == render_markdown(text)
        assert shown["think"] == render_markdown(reasoning)


def test_thinking_section_is_never_resent(runs: dict) -> None:
    for widget, *_ in runs.values():
        assert all("<details" not in m and "<summary" not in m for m in widget.sent)


def test_phases_are_announced_with_their_first_characters() -> None:
    widget, clock = FakeWidget(), Clock()
    view = WidgetView(widget, FakeHandle(), clock=clock, lingering=LINGERING)
    snap = TurnSnapshot()
    view.update(snap)
    assert widget.sent == []  # waiting: the browser ticks the timer itself
    view.update(snap.apply(ReasoningDelta("Hm")))
    clock.now += 0.01
    view.update(snap.apply(ReasoningDelta(", let me see")))  # coalesced
    clock.now += 2.49
    view.update(snap.apply(TextDelta("Yes")))  # a new phase goes out at once
    first, second = widget.messages
    assert first == {"phase": "thinking", "ops": [{"s": "think", "k": 0, "a": "<p>Hm</p>\n"}]}
    assert second["phase"] == "answer" and second["t"] == 2.5
    assert second["ops"] == [
        {"s": "think", "k": len("<p>Hm"), "a": ", let me see</p>\n"},
        {"s": "answer", "k": 0, "a": "<p>Yes</p>\n"},
    ]


def test_tool_calls_alone_start_the_answer_phase() -> None:
    widget = FakeWidget()
    view = WidgetView(widget, FakeHandle(), clock=Clock(), lingering=LINGERING)
    view.update(TurnSnapshot().apply(ToolCallDelta(0, "c1", "weather", "{")))
    (msg,) = widget.messages
    assert msg["phase"] == "answer"
    shown = json.dumps(msg["ops"])
    assert "weather" in shown and "language-json" in shown  # the call streams into the answer


def test_throttled_updates_do_not_join_the_text() -> None:
    class Counting(TurnSnapshot):
        reads = 0

        @property
        def text(self) -> str:
            Counting.reads += 1
            return super().text

    widget, clock = FakeWidget(), Clock()
    view = WidgetView(widget, FakeHandle(), clock=clock, lingering=LINGERING)
    snap = Counting()
    for i in range(5000):
        snap.apply(TextDelta(f"w{i} "))
        clock.now += 0.0005
        view.update(snap)
    assert Counting.reads <= 2 * len(widget.sent) + 2  # not once per event


def test_finish_shows_the_static_render_once_and_releases_the_widget(runs: dict) -> None:
    widget, handle, *_ = runs[1]
    assert widget.closed <= 1 and len(handle.updates) == 1  # open a while for the reader's fold choice
    LINGERING.release()
    assert widget.closed == 1
    bundle, kwargs = handle.updates[0]
    assert kwargs == {"raw": True} and set(bundle) == {"text/html", "text/plain"}
    assert '<details class="evo-thinking"><summary>Thought for 3.0 s</summary>' in bundle["text/html"]
    assert "<script" not in bundle["text/html"] and "deepseek-v4-flash · 100 in (64% cached)" in bundle["text/plain"]


def test_keep_open_leaves_closing_the_widget_to_its_owner() -> None:
    widget = FakeWidget()
    view = WidgetView(widget, None, clock=Clock(), lingering=LINGERING, keep_open=True)  # the chat panel's way
    snap = TurnSnapshot().apply(TextDelta("done"))
    view.finish(snap, footer(snap))
    assert widget.closed == 0 and widget.sent  # the last flush went out; the widget stays


def test_finish_is_idempotent_and_later_updates_are_ignored() -> None:
    widget, handle = FakeWidget(), FakeHandle()
    view = WidgetView(widget, handle, clock=Clock(), lingering=LINGERING)
    snap = TurnSnapshot().apply(TextDelta("partial"))
    done = footer(snap, status="interrupted")
    view.finish(snap, done)
    sent = len(widget.sent)
    view.finish(snap, done)
    view.update(snap.apply(TextDelta(" more")))
    assert len(handle.updates) == 1 and len(widget.sent) == sent
    LINGERING.release()
    assert widget.closed == 1
    assert "Interrupted — partial answer kept" in handle.updates[0][0]["text/html"]


def test_finish_after_an_interrupt_mid_stream() -> None:
    widget, handle, clock = FakeWidget(), FakeHandle(), Clock()
    view = WidgetView(widget, handle, clock=clock, lingering=LINGERING)
    snap = TurnSnapshot()
    with pytest.raises(KeyboardInterrupt):
        for i in range(100):
            snap.apply(TextDelta(f"word{i} "))
            clock.now += 0.01
            view.update(snap)
            if i == 50:
                raise KeyboardInterrupt
    view.finish(snap, footer(snap, status="interrupted"))
    html = handle.updates[0][0]["text/html"]
    assert "word50" in html and "word51" not in html and "Interrupted" in html
    assert replay(widget.messages)["answer"] == render_markdown(snap.text)  # flushed before replacing


def test_finish_still_replaces_and_closes_when_the_comm_is_broken() -> None:
    widget, handle = FakeWidget(fail=True), FakeHandle()
    view = WidgetView(widget, handle, clock=Clock(), lingering=LINGERING)
    snap = TurnSnapshot().apply(TextDelta("text"))
    view.finish(snap, footer(snap, status="error", message="HTTP 500: boom"))
    assert widget.closed == 1 and "HTTP 500: boom" in handle.updates[0][0]["text/html"]


def test_widget_closes_even_when_the_display_update_fails() -> None:
    class BrokenHandle(FakeHandle):
        def update(self, obj: Any, **kwargs: Any) -> None:
            raise OSError("iopub gone")

    widget = FakeWidget()
    view = WidgetView(widget, BrokenHandle(), clock=Clock(), lingering=LINGERING)
    with pytest.raises(OSError, match="iopub"):
        view.finish(TurnSnapshot(), Footer(None, None, 0.1, None, None))
    assert widget.closed == 1


# --- the browser side, in Node --------------------------------------------------------------


def test_js_front_end_rebuilds_the_answer_and_folds_the_thinking(runs: dict, tmp_path: Path) -> None:
    widget, _, _, reasoning, text = runs[1]
    result = run_js(widget.messages, [], tmp_path)
    for view in (result["live"], result["late"]):  # a view opened late shows the same
        assert view["answer"] == render_markdown(text) and view["think"] == render_markdown(reasoning)
        assert view["open"] is False and view["waitHidden"] is True and view["detailsHidden"] is False
        assert view["summary"].startswith("Thought for ")


def test_js_front_end_keeps_the_thinking_as_the_reader_left_it(runs: dict, tmp_path: Path) -> None:
    widget, *_ = runs[1]
    messages = widget.messages
    assert messages[0]["phase"] == "thinking"
    # the reader folds the thinking, then opens it again, both while it streams
    assert run_js(messages, [0, 2], tmp_path)["live"]["open"] is True
    # the reader folds it while it streams: it stays folded
    assert run_js(messages, [1], tmp_path)["live"]["open"] is False


# --- text mode ------------------------------------------------------------------------------


class Terminal(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty
        self.flushes = 0

    def isatty(self) -> bool:
        return self.tty

    def flush(self) -> None:
        self.flushes += 1


def test_text_view_streams_new_characters_then_the_footer() -> None:
    out, clock = Terminal(tty=False), Clock()
    view = TextView(out, clock=clock)
    start = clock.now
    snap = feed(view, clock, "Think \x1b[2Jfirst.", "The **answer**.\r")
    view.finish(snap, footer(snap))
    view.finish(snap, footer(snap))
    assert out.getvalue() == (
        "Thinking…\nThink [2Jfirst.\n\nThe **answer**.\n"
        "deepseek-v4-flash · 100 in (64% cached) · 50 out (20 reasoning) · 12.0 s\n"
    )
    assert out.flushes <= (clock.now - start) / 0.05 + 3


def test_text_view_styles_only_a_terminal() -> None:
    out = Terminal(tty=True)
    view = TextView(out, clock=Clock())
    snap = TurnSnapshot().apply(ReasoningDelta("hm")).apply(TextDelta("ok"))
    view.update(snap)
    view.finish(snap, footer(snap, status="length"))
    text = out.getvalue()
    assert "\x1b[2;3mThinking…\x1b[0m" in text and "\x1b[2mhm\x1b[0m" in text
    assert "\x1b[33m[cut at max_tokens — %deepseek continue, or raise --max-tokens]\x1b[0m" in text


def test_text_view_shows_tool_calls_and_errors() -> None:
    out = Terminal(tty=False)
    view = TextView(out)
    snap = TurnSnapshot().apply(ToolCallDelta(0, "c1", "weather", '{"city": "Oslo"}'))
    view.finish(snap, Footer("m", None, 1.0, None, None, status="error", message="HTTP 500: boom"))
    assert (
        out.getvalue() == '\n[tool call] weather({"city": "Oslo"})\n[The request failed: HTTP 500: boom]\nm · 1.0 s\n'
    )


def test_open_view_modes(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert isinstance(open_view("none"), NullView)
    view = open_view("text")
    assert isinstance(view, TextView)
    snap = TurnSnapshot().apply(TextDelta("hello"))
    view.update(snap)
    view.finish(snap, Footer("m", None, 1.0, None, None))
    assert capsys.readouterr().out == "hello\nm · 1.0 s\n"
    with pytest.raises(ValueError, match="unknown live view mode"):
        open_view("html")


def test_auto_mode_follows_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    import IPython

    class ZMQInteractiveShell:
        pass

    class TerminalInteractiveShell:
        pass

    for shell, expected in ((None, "none"), (ZMQInteractiveShell(), "widget"), (TerminalInteractiveShell(), "text")):
        monkeypatch.setattr(IPython, "get_ipython", lambda shell=shell: shell)
        assert live.auto_mode() == expected
    monkeypatch.delitem(sys.modules, "IPython")
    assert live.auto_mode() == "none"
    assert not open_view("auto").shows_answer


def test_widget_mode_displays_an_anywidget_with_a_text_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    import IPython.display

    shown: list[tuple[Any, dict[str, Any]]] = []
    handle = FakeHandle()

    def display(obj: Any, **kwargs: Any) -> FakeHandle:
        shown.append((obj, kwargs))
        return handle

    monkeypatch.setattr(IPython.display, "display", display)
    view = open_view("widget", model="deepseek-v4-flash", lingering=LINGERING)
    ((widget, kwargs),) = shown
    assert kwargs == {"display_id": True}
    data, _ = widget._repr_mimebundle_()
    assert data["text/plain"] == "Waiting for deepseek-v4-flash…"
    assert "application/vnd.jupyter.widget-view+json" in data
    assert "export default" in widget._esm and ".evo-reply" in widget._css and ".evo-live" in widget._css
    assert len(widget.key) == 32 and widget.model_label == "deepseek-v4-flash"
    snap = TurnSnapshot().apply(TextDelta("hi"))
    view.update(snap)
    view.finish(snap, Footer("m", None, 1.0, None, None))
    assert handle.updates and widget.comm is not None  # open to hear the reader's fold choice
    LINGERING.release()
    assert widget.comm is None  # closed: the comm is released


def test_tool_call_arguments_stream_into_the_live_answer() -> None:
    from evo_magic.core.events import ToolCallDelta
    from evo_magic.core.snapshot import TurnSnapshot
    from evo_magic.display.live import tool_calls_markdown

    snap = TurnSnapshot()
    snap.apply(ToolCallDelta(0, "c1", "weather", '{"ci'))
    assert "🔧 weather" in tool_calls_markdown(snap) and '{"ci' in tool_calls_markdown(snap)
    snap.apply(ToolCallDelta(0, arguments='ty": "Oslo"}'))
    assert '{"city": "Oslo"}' in tool_calls_markdown(snap)


def test_the_live_view_ends_on_the_json_form_and_the_terminal_labels_every_choice() -> None:
    import io

    from evo_magic.display.live import TextView, WidgetView

    from .helpers import Clock, FakeHandle, FakeWidget

    handle = FakeHandle()
    view = WidgetView(FakeWidget(), handle, clock=Clock(), lingering=LINGERING, as_json=True)
    snap = accumulate([TextDelta('{"a": [1, 2]}'), Finished("stop")])
    view.update(snap)
    view.finish(snap, FOOTER)
    [(bundle, kw)] = handle.updates
    assert '<code class="language-json evo-hl">' in bundle["text/html"] and kw == {"raw": True}
    assert bundle["text/plain"].startswith('{\n  "a": [\n    1,')

    out = io.StringIO()
    text_view = TextView(out, clock=Clock(), choices=3)
    snap = three_choices()
    text_view.update(snap)
    text_view.finish(snap, FOOTER)
    lines = out.getvalue().splitlines()
    assert lines[0] == "Choice 1 of 3 (the conversation continues from it):"
    assert "Choice 2 of 3 (%deepseek pick 2 continues from it):" in lines
    assert "**answer 3**" in lines and lines[-1].startswith("deepseek-v4-flash · 30 in")
    assert out.getvalue().count("deepseek-v4-flash · ") == 1


OPEN = '<details class="evo-thinking" open>'


FOLDED = '<details class="evo-thinking">'


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


def test_the_live_view_highlights_finished_blocks_and_keeps_the_open_tail_plain() -> None:
    stream = MarkdownStream()
    stream.update(PYTHON[:40])
    assert "evo-hl" not in stream.tail_html  # still being written
    delta = stream.update(PYTHON + "\nand then\n")
    assert delta.committed and '<code class="language-python evo-hl">' in delta.committed[0]
    assert "evo-hl" not in stream.tail_html
