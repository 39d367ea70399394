"""``%deepseek restore``: a session rebuilt from the ledger after a kernel restart.

Unit level: a real ledger (tmp EVO_MAGIC_HOME) and the in-process emulator; a "kernel restart"
is a fresh registry and accounting over the same ledger file. Kernel level: two real kernels.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from evo_magic.core.events import Finished, ReasoningDelta, ResponseStarted, TextDelta, ToolCallDelta, UsageReported
from evo_magic.core.snapshot import TurnSnapshot
from evo_magic.errors import RateLimitError
from evo_magic.ledger.accounting import Accounting
from evo_magic.ledger.records import restored_turn, row_from_reply, turn_from_reply
from evo_magic.ledger.store import (
    Ledger,
    LedgerRow,
    TurnRecord,
)
from evo_magic.runtime import reset_root, root
from evo_magic.sessions.reply import Reply, Timing

from ..conftest import use_emulator
from .helpers import AT, TURN1

NOTEBOOK = "/work/restore.ipynb"


@pytest.fixture
def online(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    use_emulator(monkeypatch, emulator.url, NOTEBOOK, "sk-restore-test-1234")
    yield
    _restart()


def _restart() -> Accounting:
    """What a kernel restart does to the in-memory state: a new root (sessions, accounting)."""
    reset_root()
    return root().accounting

def test_restore_rebuilds_the_exact_history_after_a_restart(online: None, emulator: Any) -> None:
    acc = _restart()
    s = root().registry.get()
    s.ask("What is 2+2?", thinking=True, cell=1, cell_id="c1")
    s.ask("And 3*3?", thinking=True, cell=2, cell_id="c2")
    before = [m.to_openai() for m in s.history]
    assert any("reasoning_content" in m for m in before)  # thinking on: reasoning is echoed
    assert [t.ledger_id for t in s.turns] == [r.id for r in acc.ledger.rows(NOTEBOOK)]

    acc = _restart()
    s = root().registry.get()
    assert s.turns == []
    added, superseded = acc.restore(s)
    assert (len(added), superseded) == (2, [])
    assert [m.to_openai() for m in s.history] == before  # byte for byte: the prefix cache still hits
    assert s.turns[0].reply.text == "**4**" or "4" in s.turns[0].reply.text
    assert s.turns[1].reply.usage is not None and s.turns[1].reply.cost is not None
    assert acc.restore(s) == ([], [])  # idempotent

    n = len(emulator.requests)
    s.ask("And 5-1?", cell=1)
    sent = emulator.requests[n]["messages"]
    assert sent[: len(before)] == before  # the next request continues the restored conversation


def test_a_conversation_replayed_from_the_cache_is_already_in_memory(online: None, emulator: Any) -> None:
    """A headless re-run (no cell ids) replays the same turns from the cache: restoring then
    finds the earlier run's turns in memory (the same requests), instead of adding them twice."""
    for _ in range(2):
        acc = _restart()
        acc.cache = "on"
        s = root().registry.get()
        s.ask("What is 2+2?", cell=1)
        s.ask("And 3*3?", cell=2)
    assert acc.restore(s) == ([], []) and len(s.turns) == 2
    acc = _restart()  # and a kernel that restores first gets the conversation once, not once per run
    added, _ = acc.restore(s := root().registry.get())
    assert len(added) == 2 and [t.prompt for t in s.turns] == ["What is 2+2?", "And 3*3?"]
    assert all(restored_turn(row, record).reply.request_key for row, record in acc.ledger.turns(NOTEBOOK))


def test_a_picked_choice_is_what_history_shows_and_restore_brings_back(online: None) -> None:
    acc = _restart()
    s = root().registry.get()
    reply = s.ask("Name a colour", n=3, cell=1)
    assert len(set(reply.choices)) == 3
    s.pick(2)
    picked = reply.choices[2]
    assert s.turns[-1].answer == picked
    (_, record), = acc.ledger.turns(NOTEBOOK, "default")
    assert record.text == picked  # the ledger keeps the picked answer
    acc = _restart()
    s = root().registry.get()
    acc.restore(s)
    assert s.turns[-1].answer == picked and s.history[-1].content == picked


def test_reset_undo_and_rerun_are_remembered(online: None) -> None:
    acc = _restart()
    s = root().registry.get()
    s.ask("first", cell_id="c1")
    s.ask("second", cell_id="c2")
    s.ask("second, reworded", cell_id="c2")  # the cell re-run replaces its turn
    s.ask("third", cell_id="c3")
    s.undo()  # drops "third"
    assert [t.prompt for t in s.turns] == ["first", "second, reworded"]

    acc = _restart()
    s = root().registry.get()
    acc.restore(s)
    assert [t.prompt for t in s.turns] == ["first", "second, reworded"]  # what the notebook showed
    s.reset()

    acc = _restart()
    s = root().registry.get()
    assert acc.restore(s) == ([], [])  # a reset forgets for good
    dropped = acc.ledger.turns(NOTEBOOK, "default", dropped=True)
    assert len(dropped) == 4


def test_cells_rerun_after_restart_supersede_their_stored_turn(online: None) -> None:
    acc = _restart()
    s = root().registry.get()
    s.ask("one", cell_id="c1")
    s.ask("two", cell_id="c2")
    acc = _restart()
    s = root().registry.get()
    s.ask("two, run again after the restart", cell_id="c2")
    added, superseded = acc.restore(s)
    assert [t.prompt for t in added] == ["one"] and [t.prompt for t in superseded] == ["two"]
    assert [t.prompt for t in s.turns] == ["one", "two, run again after the restart"]  # asked order
    acc = _restart()
    s = root().registry.get()
    acc.restore(s)
    assert [t.prompt for t in s.turns] == ["one", "two, run again after the restart"]


def test_named_sessions_restore_separately(online: None) -> None:
    acc = _restart()
    root().registry.get().ask("in default")
    root().registry.get("side").ask("in side")
    acc = _restart()
    side = root().registry.get("side")
    acc.restore(side)
    assert [t.prompt for t in side.turns] == ["in side"] and root().registry.get().turns == []


def test_turns_from_schema_2_restore_as_question_and_answer(tmp_path: Path) -> None:
    from evo_magic.ledger.store import LedgerRow

    with Ledger(tmp_path / "l.sqlite3") as ledger:
        rid = ledger.record(LedgerRow(NOTEBOOK, "default", "deepseek-v4-flash", cell=4))
        ledger.record_turn(rid, TurnRecord("q?", "a.", "because"))  # no messages: an old row
        row, record = ledger.turns(NOTEBOOK)[0]
    turn = restored_turn(row, record)
    assert [m.to_openai() for m in turn.messages] == [
        {"role": "user", "content": "q?"},
        {"role": "assistant", "content": "a.", "reasoning_content": "because"},
    ]
    assert (turn.cell, turn.ledger_id, turn.reply.text, turn.reply.reasoning) == (4, rid, "a.", "because")


def test_rows_from_a_reply() -> None:
    snap = TurnSnapshot()
    for event in (
        ResponseStarted("r-9", "deepseek-v4-flash"),
        ReasoningDelta("thinking"),
        TextDelta("Hello"),
        ToolCallDelta(0, "call_0", "f", '{"x": 1}'),
        UsageReported(TURN1),
        Finished("stop"),
    ):
        snap.apply(event)
    reply = Reply(snap, "deepseek-chat", "default", Timing(10.0, first_token=10.5, end=12.0), "ok", "openai", cell=7)
    made = row_from_reply(reply, notebook="n.ipynb", cost=Decimal("0.0000410536"), at=AT)
    assert made == LedgerRow(
        notebook="n.ipynb",
        session="default",
        model_requested="deepseek-chat",
        model_answered="deepseek-v4-flash",
        usage=TURN1,
        cost=Decimal("0.0000410536"),
        at=AT,
        cell=7,
        ttft=0.5,
        elapsed=2.0,
        response_id="r-9",
    )
    reply.offline = True  # answered by the bundled emulator
    assert row_from_reply(reply, notebook="n.ipynb", cost=Decimal("0.0000410536"), at=AT) == replace(made, offline=True)
    assert turn_from_reply(reply, "Hi") == TurnRecord(
        "Hi", "Hello", "thinking", ({"index": 0, "id": "call_0", "name": "f", "arguments": '{"x": 1}'},)
    )
    failed = Reply(TurnSnapshot(), "deepseek-v4-pro", "s", Timing(0.0, end=0.1), "error", cell="In[3]")
    failed.error = RateLimitError("slow down")
    made = row_from_reply(failed, notebook="n", cost=None, at=AT, origin="panel")
    assert (made.usage, made.error, made.cell, made.model_answered, made.origin) == (
        None,
        "RateLimitError",
        None,
        None,
        "panel",
    )
