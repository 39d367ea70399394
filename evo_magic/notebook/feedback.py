"""What the magic tells about its configuration: a refused ``%config`` and configuration notes.

A mixin of :class:`~evo_magic.notebook.magics.DeepSeekMagics` (thin IO shell). IPython's ``%config``
logs a setting a trait refuses through the root logger (``ERROR:root:…``, with traitlets'
wording); here it is one clean line instead, and the trait keeps its value (traitlets rolls
back every change of a refused statement).
"""

from __future__ import annotations

from typing import Any

from IPython.display import display
from traitlets import TraitError

from ..display.notices import Notice


class ConfigFeedback:
    """``update_config`` that says a refusal in one line; ``_tell`` for notes, once each."""

    def update_config(self, config: Any) -> None:
        try:
            super().update_config(config)  # type: ignore[misc]
        except TraitError as exc:  # the values in force stay (hold_trait_notifications undid them)
            text = " ".join(str(exc).split())
            display(Notice(f"{text} The setting keeps its value.", kind="error", title="%config refused"))

    def _tell(self, notes: tuple[str, ...]) -> None:
        """Show each configuration note (a .env ignored, a line of it skipped) once per kernel."""
        told: set[str] = self.__dict__.setdefault("_told", set())
        for note in notes:
            if note not in told:
                told.add(note)
                display(Notice(note, kind="warning", title="Configuration"))
