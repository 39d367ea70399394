"""``%%deepseek --fim``: fill in the middle of the cell's code (a mixin of
:class:`~evo_magic.notebook.magics.DeepSeekMagics`; thin IO shell).

The cell body is code with one ``<FILL>`` marker: the code before it is the FIM ``prompt``,
the code after it the ``suffix`` (:func:`evo_magic.sessions.fill.fill`). The body is sent as
written (no ``{value}`` interpolation: code is full of braces). The fill streams in live and
the cell ends on the completed code with the filled part marked; ``-f code`` puts the completed
code in a new cell below, ``-o VAR`` stores the :class:`~evo_magic.sessions.fill.Filled`.
Options that belong to a conversation or to thinking are one-line errors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.display import display

from ..display.notices import Notice
from ..errors import ConfigError, EvoMagicError, OptionError
from ..sessions.reply import Interrupted
from ..sessions.session import SessionBusy
from . import args as magic_args

if TYPE_CHECKING:
    from ..core.options import RequestOptions
    from ..runtime import Runtime
    from ..sessions.fill import Filled
    from ..sessions.request import View, ViewFactory
    from .settings import Prefs

__all__ = ["MARKER", "FimCell", "split_fill"]

MARKER = "<FILL>"
#: Cell flags with no place in a FIM request, with why (tools are refused by the FIM codec).
_NOT_FOR_FIM = {
    "prefix": "--prefix continues a chat answer, not a fill: drop it",
    "prefix_reasoning": "--prefix-reasoning continues a chat answer, not a fill: drop it",
    "system": "FIM completion has no system prompt: drop --system",
    "fix": "--fix explains an error in a chat answer; it does not go with --fim",
    "new": "FIM completion does not touch the conversation: drop --new",
    "map_data": "--map asks a chat question per row; it does not go with --fim",
    "estimate": "--estimate goes with --map, not with --fim",
    "concurrency": "--concurrency goes with --map, not with --fim",
    "schema": "--schema validates a JSON chat answer; FIM fills code: drop it",
    **dict.fromkeys(("tools", "tool_choice", "approve", "max_tool_rounds", "max_tool_calls"),
                    "FIM completion takes no tools: drop the tools and the tool options"),
}  # fmt: skip


def split_fill(body: str) -> tuple[str, str]:
    """The code before and after the one ``<FILL>`` of ``body``; a one-line UsageError for
    none, several, or no code around it."""
    found = body.count(MARKER)
    if found != 1:
        has = "none" if not found else str(found)
        where = " where the code goes" if not found else ""
        raise UsageError(f"--fim needs one {MARKER} marker{where}; the cell has {has}")
    before, after = body.split(MARKER)
    if not before.strip() and not after.strip():
        raise UsageError(f"there is no code around {MARKER}: write the code before it (and after it)")
    return before, after.rstrip() + "\n" if after.strip() else ""


class FimCell:
    """``%%deepseek --fim`` (see the module doc)."""

    shell: Any
    runtime: Runtime
    prefs: Prefs

    if TYPE_CHECKING:  # provided by CellMagic and ConfigFeedback

        def execution_count(self) -> int | None: ...

        def store(self, name: str | None, value: Any) -> None: ...

        def _tell(self, notes: tuple[str, ...]) -> None: ...

    def _fim(self, args: Any, body: str) -> Filled:
        """Fill the cell's hole with a live view, show it, ``-f code``, ``-o``."""
        from ..sessions.fill import fill  # the FIM codec: imported with the first --fim

        for name, why in _NOT_FOR_FIM.items():
            if getattr(args, name):
                raise UsageError(why)
        prompt, suffix = split_fill(body)
        session = self.runtime.registry.get(args.session)
        options = {k: v for k, v in magic_args.overrides(args).items() if k not in _NOT_FOR_FIM}
        try:
            filled = fill(session, prompt, suffix, view_factory=self._fim_views(args, prompt, suffix),
                          cell=self.execution_count(), **options)  # fmt: skip
        except Interrupted as exc:
            self.store(args.output, exc.reply)
            raise
        except (SessionBusy, OptionError, ConfigError) as exc:
            self._tell(self.runtime.notes)
            raise UsageError(exc.one_line()) from None
        except EvoMagicError as exc:
            self.store(args.output, exc.reply)
            raise
        self._tell(self.runtime.notes)
        if self.prefs.live == "none":
            from ..display.fill import fill_bundle

            display(fill_bundle(filled.prompt, filled.text, filled.suffix, filled.reply.footer), raw=True)
        logprobs = filled.reply.snapshot.choice(0).logprobs
        if logprobs:  # --logprobs: how sure the model was of each token of the fill
            from ..display.logprobs import LogprobsView

            display(LogprobsView(logprobs))
        if args.format == "code" and self.shell is not None:
            self.shell.set_next_input(filled.code.rstrip("\n"), replace=False)
            display(Notice("The completed code is in a new cell below, ready to run.", title="Code"))
        self.store(args.output, filled)
        return filled

    def _fim_views(self, args: Any, prompt: str, suffix: str) -> ViewFactory | None:
        """A live view of the fill, as ``live`` says (``-f text``: the terminal's)."""
        mode = "text" if args.format == "text" and self.prefs.live != "none" else self.prefs.live
        if mode == "none":
            return None

        def views(opts: RequestOptions) -> View:
            from ..display.fill import open_fill_view

            return open_fill_view(mode, prompt, suffix, model=opts.model)

        return views
