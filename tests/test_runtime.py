"""The kernel's root (runtime.Runtime) and the typed session events it passes on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import evo_magic
from evo_magic.config import Endpoint, Secret
from evo_magic.errors import OptionError
from evo_magic.runtime import Runtime, reset_root, root
from evo_magic.sessions.host import (
    AnswerEnded,
    Defaults,
    RequestSettled,
    SessionCreated,
    SessionEvent,
    SessionReset,
    TurnAdded,
    TurnDropped,
    TurnPicked,
    TurnsRestored,
)

from .conftest import use_emulator


@pytest.fixture
def events(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[SessionEvent]]:
    use_emulator(monkeypatch, emulator.url, "/work/runtime.ipynb")
    seen: list[SessionEvent] = []
    root().listeners.append(seen.append)
    yield seen


def names(events: list[SessionEvent]) -> list[str]:
    return [type(e).__name__ for e in events]


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        (["ask"], ["SessionCreated", "RequestSettled", "TurnAdded", "AnswerEnded"]),
        (["ask", "undo"], ["SessionCreated", "RequestSettled", "TurnAdded", "AnswerEnded", "TurnDropped"]),
        (["ask", "reset"], ["SessionCreated", "RequestSettled", "TurnAdded", "AnswerEnded", "SessionReset"]),
        (["ask3", "pick"], ["SessionCreated", "RequestSettled", "TurnAdded", "AnswerEnded", "TurnPicked"]),
        (["rerun", "rerun"], ["SessionCreated", *["RequestSettled", "TurnAdded", "AnswerEnded"] * 2]),
        (["refused"], ["SessionCreated"]),
    ],
)
def test_what_each_step_emits(events: list[SessionEvent], steps: list[str], expected: list[str]) -> None:
    s = evo_magic.session()
    for step in steps:
        if step == "ask":
            s.ask("What is 2+2?")
        elif step == "ask3":
            s.ask("Name a colour", n=3, thinking=False)
        elif step == "rerun":
            s.ask("What is 2+2?", cell_id="cell-1")
        elif step == "undo":
            s.undo()
        elif step == "reset":
            s.reset()
        elif step == "pick":
            s.pick(1)
        elif step == "refused":
            with pytest.raises(OptionError):
                s.ask("q", temperature=9)
    assert names(events) == expected


def test_events_carry_what_listeners_need(events: list[SessionEvent]) -> None:
    s = evo_magic.session()
    s.ask("What is 2+2?", cell_id="c1")
    first = s.turns[0]
    s.ask("What is 2+2, again?", cell_id="c1")  # a re-run cell replaces its turn
    added = [e for e in events if isinstance(e, TurnAdded)]
    assert added[0].replaced is None and added[1].replaced is first and added[1].turn is s.turns[0]
    settled = [e for e in events if isinstance(e, RequestSettled)]
    assert all(e.reply.priced and e.reply.status == "ok" for e in settled)
    assert [e.reply for e in events if isinstance(e, AnswerEnded)] == [e.reply for e in settled]
    assert s.turns[0].ledger_id == settled[-1].reply.ledger_request  # the ledger row came back from Host.start


def test_a_restore_emits_the_restored_turns(events: list[SessionEvent]) -> None:
    s = evo_magic.session()
    s.ask("What is 2+2?")
    reset_root()  # a kernel restart
    seen: list[SessionEvent] = []
    root().listeners.append(seen.append)
    again = evo_magic.session()
    added, _ = root().accounting.restore(again)
    assert [type(e) for e in seen] == [SessionCreated, TurnsRestored] and seen[-1].turns == tuple(added)  # type: ignore[union-attr]


def test_a_broken_listener_is_logged_and_the_others_still_hear(events: list[SessionEvent], caplog: Any) -> None:
    root().listeners.insert(0, lambda event: 1 / 0)
    evo_magic.session().ask("What is 2+2?")
    assert "AnswerEnded" in names(events) and "ZeroDivisionError" in caplog.text


def test_parts_are_made_once_and_closed_with_the_root() -> None:
    closed: list[str] = []

    class Part:
        def __init__(self, runtime: Runtime) -> None:
            self.runtime = runtime

        def close(self) -> None:
            closed.append("part")

    rt = Runtime()
    assert rt.part(Part) is rt.part(Part) and rt.part(Part).runtime is rt
    rt.close()
    assert closed == ["part"]


def test_offline_routing_is_the_roots_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVOLINK_API_KEY", "sk-runtime-test-0000")
    rt = Runtime()
    assert not rt.endpoint().offline
    rt.offline = Endpoint(("http://127.0.0.1:9",), Secret("emulator-key-0000"), offline=True)
    assert rt.endpoint() is rt.offline


def test_defaults_route_each_name_to_its_part() -> None:
    d = Defaults().with_value("model", "deepseek-v4-pro").with_value("read_timeout", 5.0)
    d = d.with_value("max_tool_calls", 3)
    assert (d.request.model, d.transport.read_timeout, d.loop.max_tool_calls) == ("deepseek-v4-pro", 5.0, 3)
    with pytest.raises(OptionError, match="no kernel default named 'colour'"):
        d.with_value("colour", "blue")


def test_session_events_are_exhaustively_handled_by_the_ledger_and_the_panels() -> None:
    """Every event type is a case of the accounting's and the panel hub's match (mypy checks
    it with assert_never; here: none falls through to it at run time)."""
    from evo_magic.ledger.accounting import Accounting
    from evo_magic.panels.hub import PanelHub
    from evo_magic.sessions.reply import Reply, Timing, Turn

    s = evo_magic.session()
    reply = Reply(__import__("evo_magic.core.snapshot", fromlist=["TurnSnapshot"]).TurnSnapshot(), "m", "default", Timing(0.0))
    turn = Turn("q", reply)
    from evo_magic.sessions.host import NoticeRaised

    samples: list[SessionEvent] = [
        SessionCreated(s), RequestSettled(s, reply), TurnAdded(s, turn), AnswerEnded(s, reply), TurnPicked(s, turn),
        TurnDropped(s, turn), SessionReset(s), TurnsRestored(s, (turn,)), NoticeRaised(s, "note"),
    ]  # fmt: skip
    acc, hub = Accounting(), PanelHub(root())
    for event in samples:
        acc.on_event(event)
        hub.on_event(event)
    hub.close()
