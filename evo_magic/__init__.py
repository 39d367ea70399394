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

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .chat_panel import ChatPanel
    from .sessions import Session

__all__ = ["__version__", "load_ipython_extension", "panel", "session", "unload_ipython_extension", "usage"]


def usage(notebook: str | None = None, *, all_notebooks: bool = False) -> list[Any]:
    """Ledger rows (one per request) of this notebook, or of ``notebook``, or of all."""
    from .accounting import current

    acc = current()
    return acc.ledger.rows(None if all_notebooks else (notebook or acc.notebook))


def session(name: str | None = None, **settings: Any) -> Session:
    """The kernel's default session, or the named one (created on first use)."""
    from .registry import registry

    return registry().get(name, **settings)


def panel(session: str | None = None) -> ChatPanel:
    """A chat panel on the default (or the named) session, beside the ``%%deepseek`` cells:
    same conversation, streaming in the background. Display it (the last line of a cell)."""
    from .chat_panel import ChatPanel

    return ChatPanel(session)


def load_ipython_extension(ipython: Any) -> None:
    from .magics import register

    register(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from .magics import unregister

    unregister(ipython)
