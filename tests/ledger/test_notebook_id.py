"""Which notebook a kernel serves: VS Code, JupyterLab / Notebook 7, explicit name, fallback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from evo_magic.ledger.notebook_id import notebook_name, short_name


def test_jupyterlab_session_name_is_used_as_given() -> None:
    assert notebook_name({}, {"JPY_SESSION_NAME": "work/analysis.ipynb"}) == "work/analysis.ipynb"
    assert notebook_name(None, {"JPY_SESSION_NAME": "/srv/nb/analysis.ipynb"}) == "/srv/nb/analysis.ipynb"


def test_vscode_file_in_the_user_namespace_wins_over_the_session_name() -> None:
    ns = {"__vsc_ipynb_file__": "/home/me/proj/eda.ipynb"}
    assert notebook_name(ns, {"JPY_SESSION_NAME": "eda.ipynb"}) == "/home/me/proj/eda.ipynb"
    assert notebook_name(ns, {}) == "/home/me/proj/eda.ipynb"


def test_explicit_name_wins() -> None:
    env = {"EVO_MAGIC_NOTEBOOK": "nightly-report", "JPY_SESSION_NAME": "x.ipynb"}
    assert notebook_name({"__vsc_ipynb_file__": "/a.ipynb"}, env) == "nightly-report"


def test_blank_and_non_string_values_are_skipped(tmp_path: Path) -> None:
    ns = {"__vsc_ipynb_file__": 42}
    env = {"EVO_MAGIC_NOTEBOOK": "  ", "JPY_SESSION_NAME": ""}
    assert notebook_name(ns, env, cwd=str(tmp_path)) == f"untitled (cwd: {tmp_path})"


def test_fallback_is_stable_across_restarts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    monkeypatch.delenv("EVO_MAGIC_NOTEBOOK", raising=False)
    monkeypatch.chdir(tmp_path)
    first = notebook_name()
    assert first == f"untitled (cwd: {os.getcwd()})"
    assert notebook_name() == first  # no pid, no time: a restarted kernel gets the same name


def test_process_environment_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVO_MAGIC_NOTEBOOK", raising=False)
    monkeypatch.setenv("JPY_SESSION_NAME", "from-env.ipynb")
    assert notebook_name() == "from-env.ipynb"


@pytest.mark.parametrize(
    ("name", "short"),
    [
        ("work/analysis.ipynb", "analysis.ipynb"),
        ("/srv/nb/analysis.ipynb", "analysis.ipynb"),
        ("C:\\Users\\me\\eda.ipynb", "eda.ipynb"),
        ("plain", "plain"),
        ("untitled (cwd: /home/me/proj)", "untitled (cwd: /home/me/proj)"),
    ],
)
def test_short_name(name: str, short: str) -> None:
    assert short_name(name) == short
