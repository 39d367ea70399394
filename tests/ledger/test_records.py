"""``%deepseek restore``: a session rebuilt from the ledger after a kernel restart.

Unit level: a real ledger (tmp EVO_MAGIC_HOME) and the in-process emulator; a "kernel restart"
is a fresh registry and accounting over the same ledger file. Kernel level: two real kernels.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import evo_magic.ledger.accounting as accounting
import evo_magic.sessions.registry as registry_module
from evo_magic.core.messages import Message
from evo_magic.core.snapshot import ThinkingBlock, ToolCall
from evo_magic.ledger.records import restored_turn
from evo_magic.ledger.store import Ledger, TurnRecord
from evo_magic.sessions.registry import registry

from .conftest import use_emulator
from .kernel import Kernel

NOTEBOOK = "/work/restore.ipynb"


@pytest.fixture
def online(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    use_emulator(monkeypatch, emulator.url, NOTEBOOK, "sk-restore-test-1234")
    yield
    _restart()


def _restart() -> accounting.Accounting:
    """What a kernel restart does to the in-memory state: new registry, new accounting."""
    if accounting._current is not None:
        accounting._current.close()
    accounting._current = None
    if registry_module._registry is not None:
        registry_module._registry.close()
    registry_module._registry = None
    return accounting.install(None, None)


def test_message_record_round_trip() -> None:
    m = Message(
        "assistant",
        "answer",
        reasoning="",
        thinking=(ThinkingBlock("hmm", "sig=="),),
        tool_calls=(ToolCall(0, "call_1", "f", '{"x": 1}'),),
        meta={"cell": 3, "response_id": "r1", "obj": object()},
    )
    back = Message.from_record(json.loads(json.dumps(m.to_record())))
    assert back == m and back.meta == {"cell": 3, "response_id": "r1"}
    assert back.to_openai() == m.to_openai() and back.reasoning == ""  # empty reasoning stays echoed
    tool = Message.tool_result("call_1", "42", "f")
    assert Message.from_record(tool.to_record()) == tool


def test_restore_rebuilds_the_exact_history_after_a_restart(online: None, emulator: Any) -> None:
    acc = _restart()
    s = registry().get()
    s.ask("What is 2+2?", thinking=True, cell=1, cell_id="c1")
    s.ask("And 3*3?", thinking=True, cell=2, cell_id="c2")
    before = [m.to_openai() for m in s.history]
    assert any("reasoning_content" in m for m in before)  # thinking on: reasoning is echoed
    assert [t.ledger_id for t in s.turns] == [r.id for r in acc.ledger.rows(NOTEBOOK)]

    acc = _restart()
    s = registry().get()
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


def test_a_picked_choice_is_what_history_shows_and_restore_brings_back(online: None) -> None:
    acc = _restart()
    s = registry().get()
    reply = s.ask("Name a colour", n=3, cell=1)
    assert len(set(reply.choices)) == 3
    s.pick(2)
    picked = reply.choices[2]
    assert s.turns[-1].answer == picked
    (_, record), = acc.ledger.turns(NOTEBOOK, "default")
    assert record.text == picked  # the ledger keeps the picked answer
    acc = _restart()
    s = registry().get()
    acc.restore(s)
    assert s.turns[-1].answer == picked and s.history[-1].content == picked


def test_reset_undo_and_rerun_are_remembered(online: None) -> None:
    acc = _restart()
    s = registry().get()
    s.ask("first", cell_id="c1")
    s.ask("second", cell_id="c2")
    s.ask("second, reworded", cell_id="c2")  # the cell re-run replaces its turn
    s.ask("third", cell_id="c3")
    s.undo()  # drops "third"
    assert [t.prompt for t in s.turns] == ["first", "second, reworded"]

    acc = _restart()
    s = registry().get()
    acc.restore(s)
    assert [t.prompt for t in s.turns] == ["first", "second, reworded"]  # what the notebook showed
    s.reset()

    acc = _restart()
    s = registry().get()
    assert acc.restore(s) == ([], [])  # a reset forgets for good
    dropped = acc.ledger.turns(NOTEBOOK, "default", dropped=True)
    assert len(dropped) == 4


def test_cells_rerun_after_restart_supersede_their_stored_turn(online: None) -> None:
    acc = _restart()
    s = registry().get()
    s.ask("one", cell_id="c1")
    s.ask("two", cell_id="c2")
    acc = _restart()
    s = registry().get()
    s.ask("two, run again after the restart", cell_id="c2")
    added, superseded = acc.restore(s)
    assert [t.prompt for t in added] == ["one"] and [t.prompt for t in superseded] == ["two"]
    assert [t.prompt for t in s.turns] == ["one", "two, run again after the restart"]  # asked order
    acc = _restart()
    s = registry().get()
    acc.restore(s)
    assert [t.prompt for t in s.turns] == ["one", "two, run again after the restart"]


def test_named_sessions_restore_separately(online: None) -> None:
    acc = _restart()
    registry().get().ask("in default")
    registry().get("side").ask("in side")
    acc = _restart()
    side = registry().get("side")
    acc.restore(side)
    assert [t.prompt for t in side.turns] == ["in side"] and registry().get().turns == []


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


def test_ledger_migrates_schema_2_to_3(tmp_path: Path) -> None:
    import sqlite3

    from evo_magic.ledger import store as ledger_module

    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for statements in ledger_module.MIGRATIONS[:2]:
        for statement in statements:
            conn.execute(statement)
    conn.execute("INSERT INTO schema_version VALUES (2)")
    conn.execute(
        "INSERT INTO requests (at, notebook, session, origin, model_requested, protocol, outcome) "
        "VALUES ('2026-11-01T10:00:00+00:00', 'nb', 'default', 'cell', 'deepseek-chat', 'openai', 'ok')"
    )
    conn.execute("INSERT INTO turns VALUES (1, 'q', 'a', '', '[]')")
    conn.commit()
    conn.close()
    with Ledger(path) as ledger:
        [(row, record)] = ledger.turns("nb")
        assert (record.prompt, record.messages, record.cell_id) == ("q", None, None)
        assert ledger.drop_turns([row.id or 0]) == 1 and ledger.turns("nb") == []


def test_restore_command_in_real_kernels(emulator: Any, tmp_path: Path) -> None:
    env = {
        "EVOLINK_API_KEY": "sk-restore-kernel-5555",
        "EVOLINK_BASE_URL": emulator.url,
        "EVO_MAGIC_HOME": str(tmp_path / "home"),
        "JPY_SESSION_NAME": NOTEBOOK,
    }
    k = Kernel(env)
    try:
        assert k.execute("%load_ext evo_magic").ok
        assert k.execute("%%deepseek --protocol anthropic --think\nWhat is 6*7?").ok
        assert k.execute("%%deepseek\nName a prime above 40.").ok
        before = k.execute("import evo_magic\nprint(repr([m.to_record() for m in evo_magic.session().history]))").text()
    finally:
        k.close()
    k = Kernel(env)
    try:
        assert k.execute("%load_ext evo_magic").ok
        out = k.execute("%deepseek restore")
        assert out.ok and "Restored 2 turns" in out.text(), out.text()
        after = k.execute("import evo_magic\nprint(repr([m.to_record() for m in evo_magic.session().history]))").text()
        assert after == before and "signature" in after  # Anthropic thinking signatures survive
        history = k.execute("%deepseek history").text()
        assert "6*7" in history and "prime" in history
        again = k.execute("%deepseek restore")
        assert "Nothing to restore" in again.text()
        bad = k.execute("%deepseek restore --sesion x")
        assert not bad.ok and len(bad.error_text.strip().splitlines()) == 1
        assert "sk-restore" not in out.text() + history
    finally:
        k.close()
