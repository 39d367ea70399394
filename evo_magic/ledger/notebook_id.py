"""Which notebook this kernel serves: the key of the ledger's per-notebook totals and budget.

Front ends say it in different ways; the first that answers wins:

1. ``EVO_MAGIC_NOTEBOOK`` in the environment: an explicit name (papermill, nbclient, scripts).
2. ``__vsc_ipynb_file__`` in the user namespace: VS Code puts the notebook's absolute path
   there. It comes before ``JPY_SESSION_NAME`` because when both exist (VS Code attached to a
   Jupyter server) it is the path of the notebook the user actually has open.
3. ``JPY_SESSION_NAME`` in the environment: JupyterLab and Notebook 7 (jupyter_server 2) set it
   to the session's path, usually relative to the server root. It is used exactly as given
   (it is fixed at kernel start: a notebook renamed later keeps its old name until a restart).
4. Otherwise ``"untitled (cwd: /abs/path)"``. A fallback must be stable across kernel
   restarts, or the notebook's totals would start from zero after each restart, so it names
   the working directory rather than a process id; two unnamed notebooks in the same
   directory share it (set ``EVO_MAGIC_NOTEBOOK`` to separate them).

Call :func:`notebook_name` once when the extension loads (the working directory may change
later in the notebook) or on each request with the shell's ``user_ns``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

OVERRIDE_VAR = "EVO_MAGIC_NOTEBOOK"
VSCODE_NAME = "__vsc_ipynb_file__"
JUPYTER_VAR = "JPY_SESSION_NAME"
FALLBACK = "untitled (cwd: {cwd})"


def notebook_name(
    user_ns: Mapping[str, object] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> str:
    """The notebook's name for the ledger (see the module docstring for the order)."""
    env = os.environ if environ is None else environ
    candidates = (
        env.get(OVERRIDE_VAR),
        (user_ns or {}).get(VSCODE_NAME),
        env.get(JUPYTER_VAR),
    )
    for value in candidates:
        if isinstance(value, str) and value.strip():
            return value.strip()
    return FALLBACK.format(cwd=os.path.abspath(cwd if cwd is not None else os.getcwd()))


def is_fallback(notebook: str) -> bool:
    """Whether ``notebook`` is the fallback name (no front end named the notebook)."""
    return notebook.startswith(FALLBACK.split("{", 1)[0])


def short_name(notebook: str) -> str:
    """The last path component of a notebook path (``analysis.ipynb``), for one-line
    messages; fallback names are returned whole."""
    if is_fallback(notebook):
        return notebook
    return os.path.basename(notebook.rstrip("/\\").replace("\\", "/")) or notebook
