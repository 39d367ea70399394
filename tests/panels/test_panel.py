"""The chat panel's logic without a browser: build the widget, drive its callbacks (Send,
Enter from the input, Stop, the pickers), assert on the transcript, the ledger and the
snapshot. Widgets live without a front end here (ipywidgets' comms are inert)."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.error import UsageError

import evo_magic
import evo_magic.panels.panel as panel_module
from evo_magic.panels.hub import PanelHub
from evo_magic.runtime import root

from ..conftest import use_emulator, use_offline
from .helpers import LONG

NOTEBOOK = "/work/panel.ipynb"


def _hub() -> PanelHub:
    return root().part(PanelHub)


def _fresh() -> None:
    hub = _hub()
    for p in list(hub.panels):
        p.close()
    hub.partials.clear()
    hub.asking.clear()


@pytest.fixture
def online(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    use_emulator(monkeypatch, emulator.url, NOTEBOOK, "sk-panel-test-4242")
    _fresh()
    yield emulator
    _fresh()


@pytest.fixture
def slow(online: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """An emulator streaming 1000 tokens per second after 0.1 s: LONG thinks for about 0.9 s, then
    answers for 4.6 s more, long enough to be caught streaming and stopped."""
    from evo_magic.emulator import Emulator

    with Emulator(tokens_per_second=1000, first_token_delay=0.1) as emu:
        monkeypatch.setenv("EVOLINK_BASE_URL", emu.url)
        yield emu


def until(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def classes(widget: Any) -> tuple[str, ...]:
    return tuple(widget._dom_classes)


def test_send_shows_the_turn_and_shares_the_session(online: Any) -> None:
    p = evo_magic.panel()
    assert classes(p.widget) == ("evo-panel",) and "no turns yet" in p.transcript.children[0].value
    placeholder = p.transcript.children[0]
    to_front_end: list[Any] = []
    p.input.send = lambda content, buffers=None: to_front_end.append(content)
    p.input.value = "What is 2"  # the synced value may lag the box: Send asks the front end
    p.send_button.click()
    assert to_front_end == [{"type": "submit"}] and p.rows == []
    # the box answers with its text (a second view of the panel answers too, and is ignored)
    p._on_input_msg(p.input, {"type": "send", "text": "What is 2+2?", "via": "button"}, [])
    p._on_input_msg(p.input, {"type": "send", "text": "What is 2+2?", "via": "button"}, [])
    assert p.input.value == ""  # accepted: the input empties
    p.wait(10)
    [row] = p.rows
    assert row["status"] == "ok" and "4" in row["answer"] and row["cell"] == "panel"
    [block] = p.transcript.children
    assert "evo-panel-turn" in classes(block) and placeholder.comm is None  # the placeholder was closed
    assert '<div class="evo-panel-user">What is 2+2?</div>' in block.value
    assert 'class="evo-answer evo-md"' in block.value and "<strong>4</strong>" in block.value
    assert '<details class="evo-thinking">' in block.value  # folded, as in a cell
    footer = html.unescape(p.footer.value)  # off-peak the answer costs "<$0.0001"
    assert "Last answer: deepseek-v4-flash" in footer and re.search(r"This notebook: <?\$", footer)
    # the panel's question is context for the next cell, and a cell's turn shows in the panel
    s = evo_magic.session()
    assert [m.content for m in s.history if m.role == "user"] == ["What is 2+2?"]
    s.ask("And 3+3?", cell=7)
    assert [r["prompt"] for r in p.rows] == ["What is 2+2?", "And 3+3?"] and p.rows[1]["cell"] == 7
    sent = online.requests[-1]["messages"]
    assert [m["content"] for m in sent if m["role"] == "user"] == ["What is 2+2?", "And 3+3?"]
    assert p.transcript.children[0] is block  # unchanged turns keep their widget (and open <details>)


def test_enter_from_the_input_sends_and_blank_or_busy_sends_do_not(slow: Any) -> None:
    p = evo_magic.panel()
    to_front_end: list[Any] = []
    p.input.send = lambda content, buffers=None: to_front_end.append(content)
    p._on_input_msg(p.input, {"type": "send", "text": "What is 2+2?"}, [])
    p.wait(10)
    assert [r["prompt"] for r in p.rows] == ["What is 2+2?"] and to_front_end == []
    assert p.send("   ") is False and p.send("") is False
    p._on_input_msg(p.input, {"type": "other"}, [])
    p._on_input_msg(p.input, {"type": "send", "text": "  "}, [])
    assert len(p.rows) == 1 and to_front_end == []
    # the front end empties its box on Enter; a question refused while one streams goes back
    p.send(LONG)
    until(lambda: p.rows[-1]["status"] == "streaming")
    p._on_input_msg(p.input, {"type": "send", "text": "queued question"}, [])
    assert to_front_end == [{"type": "refused", "text": "queued question"}]
    until(p.stop)  # the row says "streaming" a moment before the session holds the stream
    p.wait(5)


def test_stop_keeps_the_partial_answer_marked_and_the_kernel_free(slow: Any) -> None:
    p = evo_magic.panel()
    p.send(LONG)
    until(lambda: p.rows[-1]["status"] == "streaming")
    assert "evo-panel-streaming" in classes(p.transcript.children[-1])
    assert p.stop_button.disabled is False
    p.input.value = "queued question"
    assert p.send("queued question") is False and p.input.value == "queued question"  # kept
    assert "Still answering" in p.footer.value
    time.sleep(0.5)  # the main thread is free meanwhile: this test is running on it
    started = time.monotonic()
    p.stop_button.click()
    p.wait(5)
    assert time.monotonic() - started < 1.0  # prompt
    last = p.rows[-1]
    assert last["status"] == "stopped" and last["prompt"] == LONG
    block = p.transcript.children[-1]
    assert classes(block) == ("evo-panel-turn", "jp-RenderedHTMLCommon", "evo-panel-partial") and "Stopped" in block.value
    assert evo_magic.session().turns == []  # like an interrupted cell: shown, not context
    row = root().accounting.ledger.rows(NOTEBOOK)[-1]
    assert (row.origin, row.outcome) == ("panel", "interrupted")
    assert p.stop_button.disabled is True
    assert p.stop() is False  # nothing to stop any more


def test_two_panels_stay_in_step_and_close_releases(slow: Any) -> None:
    a, b = evo_magic.panel(), evo_magic.panel()
    a.send(LONG)
    until(lambda: b.rows and b.rows[-1]["status"] == "streaming")
    until(lambda: any(not isinstance(part, str) for part in _hub().asking["default"].parts))
    live = _hub().asking["default"].parts[0]
    # the part is appended on the panel's thread just before it broadcasts; b refreshes on that
    until(lambda: live in b.transcript.children[-1].children)  # b shows the same live answer
    b.stop()  # Stop in either panel stops the session's answer
    a.wait(5)
    assert a.rows == b.rows and b.rows[-1]["status"] == "stopped"
    n = len(_hub().panels)
    b.close()
    assert len(_hub().panels) == n - 1 and b not in _hub().panels  # unhooked: the hub tells it nothing more
    assert b.widget.comm is None and b.transcript.comm is None  # widgets closed
    assert "closed" in repr(b)
    a.send("What is 2+2?", wait=True)
    assert len(a.rows) == 2 and len(b.rows) == 2  # b still reads the session, but shows nothing


def test_pickers_sessions_and_reset(online: Any) -> None:
    p = evo_magic.panel()
    other = evo_magic.panel()
    p.model_picker.value = "deepseek-v4-pro"
    p.thinking_box.value = False
    p.protocol_picker.value = "anthropic"
    s = evo_magic.session()
    assert (s.settings["model"], s.settings["thinking"], s.settings["protocol"]) == (
        "deepseek-v4-pro",
        False,
        "anthropic",
    )
    p.send("What is 2+2?", wait=True)
    row = root().accounting.ledger.rows(NOTEBOOK)[-1]
    assert (row.model_requested, row.protocol, row.origin) == ("deepseek-v4-pro", "anthropic", "panel")
    p.new_button.click()
    assert p.session.name == "chat" and p.rows == [] and "chat" in other.session_picker.options
    assert p.model_picker.value == "deepseek-v4-flash"  # the new session has the kernel defaults
    p.session_picker.value = "default"
    assert p.session.name == "default" and len(p.rows) == 1 and p.model_picker.value == "deepseek-v4-pro"
    p.reset_button.click()
    assert p.rows == [] and other.rows == [] and s.turns == []


def test_undo_restore_and_errors_show(online: Any) -> None:
    p = evo_magic.panel()
    s = evo_magic.session()
    s.ask("first")
    s.ask("second")
    s.undo()
    assert [r["prompt"] for r in p.rows] == ["first"]
    old = p.transcript.children[0]
    s.turns.clear()  # as after a kernel restart (without telling anyone)
    root().accounting.restore(s)
    [block] = p.transcript.children  # the "restore" event rebuilt the transcript
    assert block is not old and ">first</div>" in block.value and old.comm is None
    online.fail_next("401")
    p.send("this one fails", wait=True)
    last = p.rows[-1]
    assert last["status"] == "error" and "evo-panel-error" in classes(p.transcript.children[-1])
    assert "401" in p.transcript.children[-1].value or "key" in p.transcript.children[-1].value.lower()
    assert "sk-panel-test" not in p.transcript.children[-1].value  # the key never shows


def test_snapshot_is_static_escaped_and_updated(online: Any) -> None:
    p = evo_magic.panel()
    updates: list[dict] = []

    class Handle:
        def update(self, bundle: dict, **kw: Any) -> None:
            updates.append(bundle)

    p._handles.append(Handle())
    p.send("<script>alert(1)</script> What is 2+2?", wait=True)
    html = updates[-1]["text/html"]
    assert 'class="evo-panel-snapshot tex2jax_ignore mathjax_ignore"' in html and "<strong>4</strong>" in html
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert ".jp-OutputArea-child:has(.evo-panel)" in html  # hides itself next to a live panel
    assert "deepseek: **4**" in updates[-1]["text/plain"]
    p.close()
    assert len(updates) >= 2  # closing leaves the final snapshot in place


def test_panel_magic_and_display(monkeypatch: pytest.MonkeyPatch) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        shell.run_line_magic("load_ext", "evo_magic")
        with pytest.raises(UsageError, match="needs a Jupyter front end"):  # a terminal IPython
            shell.run_line_magic("deepseek", "panel")
        monkeypatch.setattr("evo_magic.display.live.auto_mode", lambda: "widget")
        p = shell.run_line_magic("deepseek", "panel -s side")
        assert isinstance(p, panel_module.ChatPanel) and p.session.name == "side"
        shown: list[Any] = []
        import IPython.display

        original = IPython.display.display
        IPython.display.display = lambda obj, **kw: shown.append((obj, kw)) or (kw.get("display_id") and object())
        try:
            p._ipython_display_()
        finally:
            IPython.display.display = original
        widget_bundle, snapshot = shown[0][0], shown[1][0]
        assert "application/vnd.jupyter.widget-view+json" in widget_bundle
        assert "needs a running kernel" in widget_bundle["text/plain"]
        assert "evo-panel-snapshot" in snapshot["text/html"] and shown[1][1]["display_id"] is True
        p.close()
    finally:
        shell.run_line_magic("unload_ext", "evo_magic")
        _fresh()


def test_the_panel_footer_counts_no_emulator_answer_as_spend(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from evo_magic.ledger.pricing import format_money

    use_offline(monkeypatch, emulator, NOTEBOOK)  # %deepseek offline
    _fresh()
    try:
        p = evo_magic.panel()
        p.send("What is 2+2?", wait=True)
        free = evo_magic.session().turns[-1].reply
        assert free.offline and free.cost is not None and free.cost > 0
        would = f"{format_money(free.cost)} if billed (emulator)"
        assert f"{would} · This notebook: $0.00 (answers of the emulator are not billed)" in html.unescape(p.footer.value)
        use_emulator(monkeypatch, emulator.url, NOTEBOOK, "sk-panel-test-4242")  # back online
        p.new_session()
        p.send("And 3+3?", wait=True)
        paid = p.session.turns[-1].reply
        assert not paid.offline and paid.cost is not None
        assert html.unescape(p.footer.value).endswith(f"{format_money(paid.cost)} · This notebook: {format_money(paid.cost)}")
        p.close()
    finally:
        _fresh()


def test_budget_warning_and_refusal_show_in_the_panel(online: Any) -> None:
    from decimal import Decimal

    p = evo_magic.panel()
    p.send("What is 2+2?", wait=True)
    spent = root().accounting.ledger.spend(NOTEBOOK).cost
    root().accounting.budget = spent / Decimal("0.85")  # past 80 %: warn
    p.new_session()  # no history: the estimate of the next input stays tiny
    p.send("And 3+3?", wait=True)
    assert p.rows[-1]["status"] == "ok" and "budget" in p.footer.value.lower()
    root().accounting.budget = spent / 2  # past the limit: refused, shown as a failed question
    p.send("And 4+4?", wait=True)
    assert p.rows[-1]["status"] == "error" and "budget" in p.transcript.children[-1].value.lower()
    root().accounting.budget = None


def test_thinking_the_reader_opened_stays_open_in_the_finished_turn(slow: Any) -> None:
    p = evo_magic.panel()
    p.send(LONG)
    until(lambda: "default" in _hub().asking and _hub().asking["default"].parts)
    live = _hub().asking["default"].parts[0]
    sent: list[Any] = []
    live.send = lambda content, buffers=None: sent.append(content)
    until(lambda: any(m.get("phase") == "answer" for m in sent))  # the live view folded the thinking
    live._handle_custom_msg({"type": "fold", "open": True}, [])  # the reader opens the thinking
    p.stop()
    p.wait(5)
    [block] = p.transcript.children
    assert p.rows[0]["status"] == "stopped"
    assert '<details class="evo-thinking" open>' in block.value  # not snapped shut at the end
    assert '<details class="evo-thinking" open>' in p.snapshot_html()  # the saved notebook too
    p.send("What is 2+2?", wait=True)  # untouched: folded, as in a cell
    assert '<details class="evo-thinking">' in p.transcript.children[-1].value
    assert p.transcript.children[0] is block  # the opened turn keeps its widget
