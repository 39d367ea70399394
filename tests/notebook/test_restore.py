"""``%deepseek restore`` without the ledger (notebook/restore.py): a notebook received from a
colleague or run on another machine rebuilds its conversation from the answers' provenance,
refills the answer cache, honours undo / reset / pick, or says exactly why it cannot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from IPython.core.formatters import DisplayFormatter
from IPython.core.interactiveshell import InteractiveShell

import evo_magic
from evo_magic.runtime import reset_root, root
from evo_magic.sessions.cache import CacheMiss
from evo_magic.sessions.provenance import output_metadata

from ..sessions.test_provenance import ping

Cell = list[dict[str, Any]]  # the metadata of a cell's outputs


def write_notebook(path: Path, cells: list[Cell]) -> Path:
    """An nbformat 4 notebook whose code cells have outputs with these metadata."""
    nb = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [
            {"cell_type": "code", "id": f"c{i}", "execution_count": i + 1, "metadata": {}, "source": "",
             "outputs": [{"output_type": "display_data", "data": {"text/plain": "…"}, "metadata": m} for m in cell]}
            for i, cell in enumerate(cells)
        ],
    }  # fmt: skip
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


def shown_metadata(obj: Any) -> dict[str, Any]:
    """The output metadata IPython gives ``obj`` when it is displayed (as a saved notebook keeps it)."""
    return json.loads(json.dumps(DisplayFormatter().format(obj)[1]))


def another_machine(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, notebook: Path, shell: InteractiveShell | None = None
) -> None:
    """A fresh kernel with an empty EVO_MAGIC_HOME, its front end naming ``notebook`` (the same
    fake API behind it); ``shell`` loads the extension again, into it."""
    transport = root().transport_options
    reset_root()
    root().transport_options = transport
    monkeypatch.setenv("EVO_MAGIC_HOME", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("JPY_SESSION_NAME", str(notebook))
    if shell is not None:
        shell.extension_manager.unload_extension("evo_magic")
        shell.extension_manager.load_extension("evo_magic")


def history(name: str = "default") -> list[dict[str, Any]]:
    return [m.to_record() for m in evo_magic.session(name).history]


def test_a_received_notebook_restores_its_conversation_and_replays_for_nothing(
    thinking_loop: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = evo_magic.session()
    asked = [s.ask(q, tools=[ping], protocol="anthropic", thinking=True, cell=i + 1, cell_id=f"c{i}")
             for i, q in enumerate(("plan", "again"))]  # fmt: skip
    cells = [[output_metadata(r) for r in reply.rounds] for reply in asked]  # each request's output
    before, sent = history(), len(thinking_loop)
    notebook = write_notebook(tmp_path / "received.ipynb", cells)
    another_machine(monkeypatch, tmp_path, notebook)
    ip = InteractiveShell.instance()
    ip.extension_manager.load_extension("evo_magic")
    try:
        text = repr(ip.run_line_magic("deepseek", "restore"))
    finally:
        ip.extension_manager.unload_extension("evo_magic")
    assert "Restored 2 turns of session 'default' from the notebook received.ipynb" in text, text
    assert "4 answers" in text and "%deepseek cache on" in text
    assert history() == before  # reasoning and thinking signatures included
    root().accounting.cache = "replay-only"  # CI on the other machine: nothing may be sent
    s = evo_magic.session()
    s.reset()
    s.ask("plan", tools=[ping], protocol="anthropic", thinking=True, cell=1, cell_id="c0")
    s.ask("again", tools=[ping], protocol="anthropic", thinking=True, cell=2, cell_id="c1")
    assert len(thinking_loop) == sent and history() == before
    with pytest.raises(CacheMiss):
        s.ask("something new")


def test_undo_reset_and_pick_in_the_notebook_are_honoured(
    shell: InteractiveShell, answering: list[dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = evo_magic.session()
    cells: list[Cell] = []
    cells.append([output_metadata(s.ask("forgotten"))])
    cells.append([shown_metadata(shell.run_line_magic("deepseek", "reset"))])
    cells.append([output_metadata(s.ask("kept"))])
    cells.append([output_metadata(s.ask("dropped"))])
    cells.append([shown_metadata(shell.run_line_magic("deepseek", "undo"))])
    cells.append([output_metadata(s.ask("last"))])
    before = history()
    assert [m["content"] for m in before if m["role"] == "user"] == ["kept", "last"]
    another_machine(monkeypatch, tmp_path, write_notebook(tmp_path / "marks.ipynb", cells), shell)
    text = repr(shell.run_line_magic("deepseek", "restore"))
    assert "Restored 2 turns" in text and history() == before


def test_a_second_restore_finds_nothing_new(shell: InteractiveShell, answering: list[dict], tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    cells = [[output_metadata(evo_magic.session().ask("one"))]]
    another_machine(monkeypatch, tmp_path, write_notebook(tmp_path / "once.ipynb", cells), shell)
    assert "Restored 1 turn " in repr(shell.run_line_magic("deepseek", "restore"))
    again = repr(shell.run_line_magic("deepseek", "restore"))
    assert "Nothing to restore" in again and "1 turn are all in memory" not in again
    assert len(evo_magic.session().turns) == 1


def test_from_names_the_file_and_a_relative_name_is_found_from_the_server_root(
    shell: InteractiveShell, answering: list[dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cells = [[output_metadata(evo_magic.session().ask("one"))]]
    (tmp_path / "work").mkdir()
    notebook = write_notebook(tmp_path / "work" / "nb.ipynb", cells)
    monkeypatch.chdir(tmp_path / "work")  # the kernel runs in the notebook's folder
    another_machine(monkeypatch, tmp_path, Path("work/nb.ipynb"), shell)  # relative to the server's root
    assert "Restored 1 turn" in repr(shell.run_line_magic("deepseek", "restore"))
    reset_root()
    monkeypatch.delenv("JPY_SESSION_NAME")
    shell.extension_manager.unload_extension("evo_magic")
    shell.extension_manager.load_extension("evo_magic")
    assert "Restored 1 turn" in repr(shell.run_line_magic("deepseek", f"restore --from {notebook}"))


def _mistyped(tmp_path: Path) -> list[Cell]:
    meta = output_metadata(evo_magic.session().ask("one"))
    meta["evo_magic"]["turn"]["messages"][0]["content"] = {"not": "text"}  # sent, it would be a 400 every time
    return [[meta]]


def _turnless(tmp_path: Path) -> list[Cell]:
    meta = output_metadata(evo_magic.session().ask("one"))
    del meta["evo_magic"]["turn"]["messages"]
    return [[meta]]


@pytest.mark.parametrize(
    ("name", "cells", "reason"),
    [
        (None, None, "no front end names this notebook's file"),
        ("missing.ipynb", None, "missing.ipynb is not found"),
        ("plain.ipynb", "not json", "plain.ipynb is not a Jupyter notebook"),
        ("empty.ipynb", [], "empty.ipynb has no evo_magic answer of session 'default'"),
        ("turnless.ipynb", _turnless, "cell 1's answer cannot be restored: its turn has no messages"),
        # a notebook file is anyone's: odd shapes are a reason, never a traceback
        ("odd.ipynb", '{"cells": [{"outputs": 7}, {"outputs": [{"metadata": []}]}]}',
         "odd.ipynb has no evo_magic answer of session 'default'"),
        ("deep.ipynb", '{"cells": ' + "[" * 100_000, "deep.ipynb is not a Jupyter notebook (not JSON)"),
        ("typed.ipynb", _mistyped, "cell 1's answer cannot be restored: its turn's messages cannot be read"),
        ("events.ipynb", [[{"evo_magic": {"request": "a" * 64, "schema": 1, "status": "ok", "answer": [1]}}]],
         "cell 1's answer cannot be read: its answer's events cannot be read"),
    ],
)
def test_it_says_exactly_why_it_cannot(
    shell: InteractiveShell, answering: list[dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    name: str | None, cells: Any, reason: str,
) -> None:  # fmt: skip
    path = tmp_path / (name or "x.ipynb")
    if callable(cells):
        write_notebook(path, cells(tmp_path))
    elif isinstance(cells, list):
        write_notebook(path, cells)
    elif isinstance(cells, str):
        path.write_text(cells)
    another_machine(monkeypatch, tmp_path, path, shell)
    if name is None:
        monkeypatch.delenv("JPY_SESSION_NAME")
    text = repr(shell.run_line_magic("deepseek", "restore"))
    assert text.startswith("Nothing to restore for session 'default'") and reason in text, text
    assert "\n" not in text and evo_magic.session().turns == []


def test_the_ledger_comes_first_when_it_has_the_session(
    shell: InteractiveShell, answering: list[dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "here.ipynb"))
    cells = [[output_metadata(evo_magic.session().ask("one"))]]
    write_notebook(tmp_path / "here.ipynb", cells)
    transport = root().transport_options
    reset_root()  # a kernel restart on the same machine: the ledger has the turn
    root().transport_options = transport
    shell.extension_manager.unload_extension("evo_magic")
    shell.extension_manager.load_extension("evo_magic")
    assert "from the ledger of here.ipynb" in repr(shell.run_line_magic("deepseek", "restore"))


def test_a_picked_choice_comes_back_picked(
    shell: InteractiveShell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx

    from ..sessions.test_session import text_stream

    monkeypatch.setenv("EVOLINK_API_KEY", "sk-pick-test-7777")
    monkeypatch.setenv("EVOLINK_BASE_URL", "http://127.0.0.1:9")
    root().transport_options = {"http_transport": httpx.MockTransport(lambda request: text_stream("name", n=3))}
    s = evo_magic.session()
    cells = [[output_metadata(s.ask("names?", n=3))], [shown_metadata(shell.run_line_magic("deepseek", "pick 3"))]]
    before = history()
    assert before[-1]["content"] == "name #3"
    another_machine(monkeypatch, tmp_path, write_notebook(tmp_path / "pick.ipynb", cells), shell)
    assert "Restored 1 turn" in repr(shell.run_line_magic("deepseek", "restore"))
    assert history() == before
