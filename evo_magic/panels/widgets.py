"""The chat panel's widgets (IO: ipywidgets, anywidget): the input, a turn's block, the
live answer holder, and the notebook's running cost from the ledger."""

from __future__ import annotations

import functools
import logging
from html import escape
from typing import TYPE_CHECKING, Any

from ..display.assets import asset_path, asset_text
from ..display.render import reply_css
from .render import Partial, entry_html, panel_css

if TYPE_CHECKING:
    from ..runtime import Runtime

log = logging.getLogger(__name__)


def user_html(prompt: str) -> Any:
    import ipywidgets as w

    return w.HTML(f'<div class="evo-panel-user">{escape(prompt)}</div>')


def empty_html(name: str) -> Any:
    import ipywidgets as w

    return w.HTML(
        f'<div class="evo-panel-empty">Session <code>{escape(name)}</code> has no turns yet: '
        "ask below (Enter sends, Shift+Enter for a new line).</div>"
    )


def entry_widget(entry: Any) -> Any:
    import ipywidgets as w

    widget = w.HTML(entry_html(entry), layout=w.Layout(width="100%"))
    widget.add_class("evo-panel-turn")
    widget.add_class("jp-RenderedHTMLCommon")  # JupyterLab's markdown styles, as the live answer has
    if isinstance(entry, Partial):
        widget.add_class("evo-panel-partial" if entry.status == "stopped" else "evo-panel-error")
    return widget


def notebook_cost(runtime: Runtime) -> str:
    """"This notebook: $0.0123 (2 requests of unknown cost)" from the ledger."""
    from ..ledger.pricing import format_money

    acc = runtime.accounting
    try:
        spend = acc.ledger.spend(acc.notebook)
    except Exception:  # the ledger is optional for the panel
        log.debug("panel: the ledger cannot be read", exc_info=True)
        return "This notebook: cost unavailable"
    unknown = f" + {spend.unknown} of unknown cost" if spend.unknown else ""
    offline = " (answers of the emulator are not billed)" if runtime.offline is not None else ""
    return f"This notebook: {format_money(spend.cost)}{unknown}{offline}"


@functools.cache
def input_class() -> Any:
    """The anywidget input class (``panels/panel.js``), defined on first use."""
    import anywidget
    import traitlets

    class PanelInput(anywidget.AnyWidget):
        """A textarea where Enter sends and Shift+Enter makes a newline."""

        _esm = asset_path("panels/panel.js")
        _css = reply_css() + "\n" + panel_css() + "\n" + asset_text("display/live.css")
        value = traitlets.Unicode("").tag(sync=True)
        placeholder = traitlets.Unicode("Ask DeepSeek… (Enter sends, Shift+Enter for a new line)").tag(sync=True)
        disabled = traitlets.Bool(False).tag(sync=True)

    return PanelInput
