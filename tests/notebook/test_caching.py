"""The answer cache in the notebook (notebook/caching.py): ``%deepseek cache``, ``--cache`` /
``--no-cache``, ``%config DeepSeekMagics.cache``, ``EVO_MAGIC_CACHE``, and the answer's
provenance in its output metadata when no live view shows it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from evo_magic.runtime import root
from evo_magic.sessions.cache import CacheMiss

from .helpers import magics_of


@pytest.fixture
def shown(shell: InteractiveShell, answering: list[dict], monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, dict]]:
    """What the cell displays, with the display's keyword arguments."""
    calls: list[tuple[Any, dict]] = []
    monkeypatch.setattr("evo_magic.notebook.cell.display", lambda obj, **kw: calls.append((obj, kw)))
    return calls


@pytest.fixture
def off_again(shell: InteractiveShell) -> Iterator[None]:
    yield
    magics_of(shell).cache = None


def test_bare_cache_tells_the_mode_and_what_caching_saved(shell: InteractiveShell, answering: list[dict]) -> None:
    shell.run_line_magic("deepseek", "cache on")
    assert root().accounting.cache == "on" and magics_of(shell).cache == "on"
    for _ in range(3):
        shell.run_cell_magic("deepseek", "--new", "What is 2+2?")
    assert len(answering) == 1
    text = repr(shell.run_line_magic("deepseek", "cache"))
    assert text.startswith("Cache: on") and "2 answers from the cache saved " in text and "$0.0001" in text
    assert "1 answer kept" in text
    shell.run_line_magic("deepseek", "cache off")
    assert root().accounting.cache == "off"
    assert repr(shell.run_line_magic("deepseek", "cache")).startswith("Cache: off")


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("cache sometimes", "one of off, on, refresh, replay-only"),
        ("cache on off", "usage: %deepseek cache [off|on|refresh|replay-only]"),
    ],
)
def test_cache_misuse_is_one_line(shell: InteractiveShell, line: str, words: str) -> None:
    with pytest.raises(UsageError) as caught:
        shell.run_line_magic("deepseek", line)
    assert words in str(caught.value) and "\n" not in str(caught.value)
    assert root().accounting.cache is None


def test_the_config_trait_and_config_table(shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = dict(map(tuple, shell.run_line_magic("deepseek", "config").rows))  # type: ignore[arg-type]
    assert rows["cache"] == "off"
    monkeypatch.setenv("EVO_MAGIC_CACHE", "replay-only")
    rows = dict(map(tuple, shell.run_line_magic("deepseek", "config").rows))  # type: ignore[arg-type]
    assert rows["cache"] == "replay-only (from EVO_MAGIC_CACHE)"
    assert repr(shell.run_line_magic("deepseek", "cache")).startswith("Cache: replay-only (from EVO_MAGIC_CACHE)")
    shell.run_line_magic("config", "DeepSeekMagics.cache = 'refresh'")
    assert root().accounting.cache == "refresh"
    rows = dict(map(tuple, shell.run_line_magic("deepseek", "config").rows))  # type: ignore[arg-type]
    assert rows["cache"] == "replay-only (from EVO_MAGIC_CACHE, over refresh)"  # CI's guard holds
    assert repr(shell.run_line_magic("deepseek", "cache")).startswith("Cache: replay-only (from EVO_MAGIC_CACHE)")
    monkeypatch.setenv("EVO_MAGIC_CACHE", "on")
    rows = dict(map(tuple, shell.run_line_magic("deepseek", "config").rows))  # type: ignore[arg-type]
    assert rows["cache"] == "refresh"
    magics_of(shell).cache = None
    shell.config.DeepSeekMagics.pop("cache", None)  # IPython keeps a %config value for the next load


def test_cell_flags_turn_it_on_or_off_for_one_cell(shell: InteractiveShell, answering: list[dict], off_again: None) -> None:
    shell.run_cell_magic("deepseek", "--cache", "What is 2+2?")
    shell.run_cell_magic("deepseek", "--cache --new", "What is 2+2?")
    assert len(answering) == 1
    shell.run_line_magic("deepseek", "cache on")
    shell.run_cell_magic("deepseek", "--no-cache --new", "What is 2+2?")
    assert len(answering) == 2
    with pytest.raises(UsageError, match="not allowed with argument"):
        shell.run_cell_magic("deepseek", "--cache --no-cache", "q")


def test_replay_only_fails_the_cell_in_one_line_naming_it(
    shell: InteractiveShell, answering: list[dict], off_again: None
) -> None:
    shell.run_line_magic("deepseek", "cache replay-only")
    shell.execution_count = 5
    with pytest.raises(CacheMiss) as caught:
        shell.run_cell_magic("deepseek", "", "Which columns need cleaning?")
    [line] = caught.value._render_traceback_()
    assert line.startswith("CacheMiss: replay-only: In[") and '"Which columns need cleaning?"' in line
    assert "%deepseek cache on" in line and answering == []


def test_without_a_live_view_the_answer_carries_its_provenance(
    shell: InteractiveShell, shown: list[tuple[Any, dict]], monkeypatch: pytest.MonkeyPatch, off_again: None
) -> None:
    shell.run_line_magic("deepseek", "cache on")
    shell.run_cell_magic("deepseek", "", "What is 2+2? My key is sk-magic-test-1111")
    shell.run_cell_magic("deepseek", "--new", "What is 2+2? My key is sk-magic-test-1111")
    (first, kw1), (again, kw2) = shown
    p1, p2 = kw1["metadata"]["evo_magic"], kw2["metadata"]["evo_magic"]
    assert (p1["cached"], p2["cached"]) == (False, True) and p1["request"] == p2["request"]
    assert len(p1["request"]) == 64 and p1["model_requested"] == "deepseek-v4-flash" and p1["protocol"] == "openai"
    assert p1["tokens"]["prompt"] > 0 and "reasoning" in p1["tokens"] and "cache_hit" in p1["tokens"]
    assert p1["price_from"] and p1["cost"] and p2["cost"] == "0" and p2["saved"] == p1["cost"]
    assert p1["version"] and p1["time"] and p2["answered_at"]
    assert p1["turn"]["messages"][0]["role"] == "user" and p1["answer"]
    assert "cached · $0 (saved" in first["text/plain"] + again["text/plain"]
    saved = json.dumps([kw1, kw2])
    assert "sk-magic-test-1111" not in saved and "****1111" in saved  # the key is never in it


def test_the_error_a_fix_sends_names_cells_not_the_kernel_s_files(shell: InteractiveShell) -> None:
    """A kernel names a cell's file by its process id (/tmp/ipykernel_4242/…py): the traceback
    sent names the cell instead, so a re-run after a restart asks the same question (and hits)."""
    shell.run_cell("def f():\n    return 1/0", store_history=True)
    shell.run_cell("f()", store_history=True)
    described = magics_of(shell)._last_error.describe()
    assert 'File "Cell In[' in described and "ipython-input" not in described and "ipykernel" not in described
    assert "ZeroDivisionError: division by zero" in described
