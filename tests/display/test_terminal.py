"""The pacing both live views share (display/terminal.py ``Pacer``); the text view's output is
tested with the widget view in test_live.py."""

from __future__ import annotations

from evo_magic.core.events import ReasoningDelta, TextDelta
from evo_magic.core.snapshot import TurnSnapshot
from evo_magic.display.terminal import Pacer

from .helpers import Clock


def at(clock: Clock, t: float) -> Clock:
    clock.now = t
    return clock


def test_a_phase_change_goes_at_once_and_other_updates_wait_the_interval() -> None:
    clock, snap = at(Clock(), 0.0), TurnSnapshot()
    pacer = Pacer(clock, 1.0)
    snap.apply(ReasoningDelta("hm"))
    assert pacer.due(snap) == (0.0, "thinking")
    pacer.sent(0.0)
    clock.now = 0.5
    snap.apply(ReasoningDelta(" more"))
    assert pacer.due(snap) is None
    snap.apply(TextDelta("Hi"))
    assert pacer.due(snap) == (0.5, "answer")  # not held back by the interval
    pacer.sent(0.5)
    clock.now = 1.49
    assert pacer.due(snap) is None
    clock.now = 1.5
    assert pacer.due(snap) == (1.5, None)


def test_a_costly_send_stretches_the_wait_to_share_times_its_cost() -> None:
    clock, snap = at(Clock(), 0.0), TurnSnapshot()
    pacer = Pacer(clock, 1.0, share=3)
    snap.apply(TextDelta("Hi"))
    assert pacer.due(snap) == (0.0, "answer")
    clock.now = 2.0  # the send (a render) took 2 s
    pacer.sent(0.0)
    clock.now = 5.99
    assert pacer.due(snap) is None
    clock.now = 6.0
    assert pacer.due(snap) == (6.0, None)
    pacer.sent(6.0)  # a cheap send: back to the interval
    clock.now = 7.0
    assert pacer.due(snap) == (7.0, None)


def test_the_footer_a_server_names_in_writes_no_control_character_to_the_terminal() -> None:
    """The footer names the model that answered, as the server says: an ESC in it is dropped, as
    in the answer's text, not obeyed by the terminal."""
    import io

    from evo_magic.core.events import ResponseStarted
    from evo_magic.display.render import Footer, footer_text
    from evo_magic.display.terminal import TextView

    snap = TurnSnapshot()
    for event in (ResponseStarted("r1", "m\x1b[2J\x07x"), TextDelta("hi\x1b]0;title\x07")):
        snap.apply(event)
    footer = Footer(snap.model, None, 1.0, None, None)
    out = io.StringIO()
    view = TextView(out, clock=Clock(), color=False)
    view.update(snap)
    view.finish(snap, footer)
    assert "\x1b" not in out.getvalue() and "\x07" not in out.getvalue() and "m[2Jx" in out.getvalue()
    assert footer_text(footer) == "m[2Jx · 1.0 s"
