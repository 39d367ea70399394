"""evo_magic: DeepSeek V4 in IPython / Jupyter through the EvoLink gateway.

``%load_ext evo_magic`` registers the ``%%deepseek`` / ``%deepseek`` magics. The Python API
shares the same session objects as the magics::

    import evo_magic
    reply = evo_magic.session().ask("Explain a p-value in two sentences")
    reply.text, reply.usage

Heavy modules (httpx, markdown-it, ipywidgets) are imported lazily, on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from .ledger.report import UsageRows
    from .panels.panel import ChatPanel
    from .sessions.fill import Filled
    from .sessions.session import Session

__all__ = [
    "__version__", "fill", "load_ipython_extension", "map", "panel", "session", "unload_ipython_extension", "usage"
]


def usage(notebook: str | None = None, *, all_notebooks: bool = False) -> UsageRows:
    """One record per request of this notebook, or of ``notebook``, or of every notebook,
    oldest first: a list with ``.to_pandas()``, ``.to_csv(path)`` and ``.total_cost`` (billed
    requests only: not the bundled emulator's) that displays as the ``%deepseek usage`` view
    (see :class:`~evo_magic.ledger.report.UsageRows`)."""
    from .runtime import root

    return root().accounting.rows(notebook, all_notebooks=all_notebooks)


def session(name: str | None = None, **settings: Any) -> Session:
    """The kernel's default session, or the named one (created on first use). Its requests
    are recorded in the usage ledger (and held to the budget) with or without ``%load_ext``."""
    from .runtime import root

    return root().registry.get(name, **settings)


def fill(prefix: str, suffix: str = "", *, session: str | None = None, **options: Any) -> Filled:
    """Fill in the middle: the code DeepSeek writes between ``prefix`` (the code before the
    hole) and ``suffix`` (after it), as a :class:`~evo_magic.sessions.fill.Filled` (``.text``
    the filled part, ``.code`` the completed code; it displays with the fill marked). Options
    as for ``ask`` without thinking or tools (``max_tokens`` at most 4,096, default 1,024).
    Recorded in the ledger under the session (default: the default one), priced and held to
    the budget; not a turn of its conversation."""
    from .runtime import root
    from .sessions.fill import fill as fill_in

    return fill_in(root().registry.get(session), prefix, suffix, **options)


def map(data: Any, template: str, schema: Any = None, **options: Any) -> Any:
    """Ask ``template`` once per row of ``data``; a table of the same kind, same index and order.

    ``data``: a pandas or polars DataFrame, a list of dicts, a list of strings (one column,
    ``text``) or a Dask DataFrame (answered on the workers). ``template`` names columns as
    ``{column}``, ``{column:.2f}``, ``{row.column}`` or ``{row["any name"]}``. The result has the
    input columns, then ``answer`` (or one column per field of ``schema``: a pydantic model, a
    dataclass, a TypedDict or a JSON Schema dict), ``error``, ``cost`` (Decimal, None when
    unknown), ``tokens_in``, ``tokens_out`` and ``cached``; ``out.attrs["evo_magic"]`` is the
    run's summary.

    Options: every request option of a cell (``model``, ``thinking``, ``max_tokens``,
    ``temperature``, ...), ``session`` (whose settings and system prompt apply),
    ``concurrency`` (requests in flight, default 32; lowered on 429s), ``dry_run=True`` (the
    estimate, nothing sent), ``pilot=N`` (with dry_run: N rows sent first to measure output),
    ``progress`` ("auto", "widget", "text", "none") and ``on_progress(counts)`` (called a few
    times a second; ``counts.stop()`` ends the run). Rows answered before — by an earlier run
    stopped by an error, Ctrl-C, a kernel restart or a crash — are not asked again; identical
    rows are asked once. Ctrl-C raises :class:`~evo_magic.batch.run.MapInterrupted` holding the
    partial result; the budget stops a run cleanly.

    A Dask DataFrame's workers read ``EVOLINK_API_KEY`` and ``EVOLINK_BASE_URL`` from their own
    environment; ``send_key_to_workers=True`` sends the notebook's key instead, inside the task
    graph — to the scheduler and every worker (see :mod:`evo_magic.batch.dask`).
    """
    from .batch.run import map_rows

    return map_rows(data, template, schema, **options)


def panel(session: str | None = None) -> ChatPanel:
    """A chat panel on the default (or the named) session, beside the ``%%deepseek`` cells:
    same conversation, streaming in the background. Display it (the last line of a cell)."""
    from .panels.panel import ChatPanel

    return ChatPanel(session)


def load_ipython_extension(ipython: Any) -> None:
    from .notebook.magics import register

    register(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from .notebook.magics import unregister

    unregister(ipython)
