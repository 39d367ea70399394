"""``%deepseek continue [--max-tokens N] [-s NAME]`` (a mixin of
:class:`~evo_magic.notebook.magics.DeepSeekMagics`; thin IO shell).

It continues the session's last answer when it was cut at max_tokens — the text cut short, or
the thinking that used up the budget and left no answer — with
:meth:`~evo_magic.sessions.session.Session.continue_`: the whole answer streams into the cell
(what was there, then the rest), and it takes the cut one's place in the same turn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.display import display

from ..errors import ConfigError, OptionError
from ..sessions.session import SessionBusy
from .args import session_parser

if TYPE_CHECKING:
    from IPython.core.magic_arguments import MagicArgumentParser

    from ..sessions.request import ViewFactory
    from ..sessions.session import Session
    from .settings import Prefs

__all__ = ["ContinueCommand", "continue_parser"]


def continue_parser() -> MagicArgumentParser:
    p = session_parser("continue")
    p.add_argument("--max-tokens", type=int)
    p.set_defaults(format="markdown")  # the live view shows the answer as a cell's
    return p


class ContinueCommand:
    """``%deepseek continue`` (see the module doc)."""

    prefs: Prefs

    if TYPE_CHECKING:  # provided by CellMagic and ConfigFeedback

        def _views(self, args: Any, as_json: bool) -> ViewFactory | None: ...

        def execution_count(self) -> int | None: ...

        def _tell(self, notes: tuple[str, ...]) -> None: ...

    def _continue(self, session: Session, args: Any) -> None:
        """Continue ``session``'s cut answer with a live view; misuse is one line."""
        try:
            reply = session.continue_(
                max_tokens=args.max_tokens, view_factory=self._views(args, False), cell=self.execution_count()
            )
        except (SessionBusy, OptionError, ConfigError) as exc:
            raise UsageError(exc.one_line()) from None
        if self.prefs.live == "none":  # no live view: the answer once, as the live view would end
            from ..display.live import reply_bundle

            display(reply_bundle(reply.snapshot, reply.footer), raw=True)
