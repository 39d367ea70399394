"""The first answer without the import wait (IO: one daemon thread).

``%load_ext evo_magic`` imports nothing heavy, so it stays fast. The first ``%%deepseek`` cell
would then pay for importing httpx, the ledger's sqlite3, markdown-it, Pygments and, in a
kernel, the live widget, and for loading the TLS CA bundle: about 0.2 s before its first
token. So right after loading, a daemon thread imports them while the user types the next
cell. A cell that needs one of them before the thread is done waits only for the rest of that
import (Python locks each module while it loads). Nothing else is made: no client, no ledger
file, no widget.

``EVO_MAGIC_WARMUP=0`` (or ``off``) keeps every import to its first use.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Mapping

logger = logging.getLogger(__name__)

#: What every first answer imports (the transport pulls in httpx and httpx-sse; httpx loads
#: httpcore only when its first client is made).
MODULES = ("evo_magic.transport", "httpcore", "evo_magic.fallback", "evo_magic.ledger.store",
           "evo_magic.ledger.records")  # fmt: skip
#: What the live view in a kernel imports on top (ipywidgets comes with it).
WIDGET_MODULES = ("anywidget",)
OFF = {"0", "off", "false", "no"}


def modules(mode: str) -> tuple[str, ...]:
    """The modules to import for a live view of ``mode`` ("widget", "text" or "none")."""
    return MODULES + WIDGET_MODULES if mode == "widget" else MODULES


def warm_up(names: tuple[str, ...]) -> None:
    """Import ``names``, then build the TLS context, the markdown parser and the Python lexer;
    a failure is left for the cell that needs it to report."""
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:
            logger.debug("warm-up: importing %s failed", name, exc_info=True)
    try:
        from ..display.highlight import highlight
        from ..display.markdown import render_markdown
        from ..transport import tls_context

        tls_context()
        render_markdown("*warm*")
        highlight("x = 1", "python")
    except Exception:
        logger.debug("warm-up: the renderer failed", exc_info=True)


def start(environ: Mapping[str, str], mode: str) -> threading.Thread | None:
    """Start the warm-up for a live view of ``mode``; None when there is nothing to warm
    (outside IPython) or ``EVO_MAGIC_WARMUP`` turns it off."""
    if mode == "none" or environ.get("EVO_MAGIC_WARMUP", "").strip().lower() in OFF:
        return None
    thread = threading.Thread(target=warm_up, args=(modules(mode),), name="evo-magic-warm-up", daemon=True)
    thread.start()
    return thread


__all__ = ["MODULES", "WIDGET_MODULES", "modules", "start", "warm_up"]
