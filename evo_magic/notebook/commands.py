"""``%deepseek`` line commands (a mixin of :class:`~evo_magic.notebook.magics.DeepSeekMagics`)."""

from __future__ import annotations

import shlex
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic_arguments import MagicArgumentParser
from traitlets import TraitError

from .. import config
from ..display.notices import Notice, Table
from ..errors import ConfigError, EvoMagicError, OptionError
from ..ledger.pricing import format_money
from . import continuing, settings
from .args import is_cell_option, session_parser, split
from .provenance import Marked

if TYPE_CHECKING:
    from ..ledger.accounting import Accounting
    from ..runtime import Runtime
    from ..sessions.registry import Registry
    from ..sessions.session import Session
    from .settings import Prefs

LINE_COMMANDS = (
    "help",
    "reset",
    "history",
    "undo",
    "restore",
    "panel",
    "pick",
    "continue",
    "fix",
    "usage",
    "budget",
    "config",
    "offline",
    "cache",
)


def _short(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _existing(registry: Registry, name: str | None) -> Session:
    """The session ``-s NAME`` names, which must exist: reading or changing a session never
    creates one (asking in a cell, ``panel`` and ``restore`` do)."""
    try:
        return registry.find(name)
    except OptionError as exc:
        raise UsageError(
            f"{exc.one_line()} (after a kernel restart, %deepseek restore -s {shlex.quote(name or '')} "
            "brings a session back)"
        ) from None


def _budget_status(acc: Accounting, budget: float | None) -> Notice:
    """The limit (or none) and this notebook's billed spend, from the ledger."""
    from ..ledger.budget import check
    from ..ledger.notebook_id import short_name
    from ..ledger.store import LedgerError

    try:
        spent = acc.ledger.spend(acc.notebook)
    except LedgerError as exc:
        raise UsageError(f"this notebook's spend cannot be read: {exc.one_line()}") from None
    limit = None if budget is None else Decimal(str(budget))
    verdict = check(spent.cost, limit, notebook=short_name(acc.notebook), unpriced=spent.unknown)
    message = verdict.message.replace("; request refused.", "; new requests are refused.")  # no request here
    if limit is None:
        hint = "%deepseek budget AMOUNT"
        text = f"{message} {hint} sets one (a warning from 80 %, requests past it are refused)."
    else:
        hint = "%deepseek budget off"
        text = f"{message} {hint} removes it."
    return Notice(text, title=None, code=[hint])


class LineCommands:
    """One ``_cmd_NAME(rest)`` method per command; the magic dispatches by the first word."""

    shell: Any
    help_text: str = ""
    runtime: Runtime
    prefs: Prefs
    budget: float | None  # the trait, set by %deepseek budget
    cache: str | None  # the trait, set by %deepseek cache

    if TYPE_CHECKING:  # provided by CellMagic and DeepSeekMagics

        def _ask(self, args: Any, prompt: str) -> Any: ...

        def _fix_prompt(self, extra: str) -> str: ...

        def _continue(self, session: Session, args: Any) -> None: ...

        def setting_values(self) -> dict[str, Any]: ...

    def _line(self, line: str) -> Any:
        words = split(line)
        if not words:
            return self._cmd_help([])
        command, rest = words[0], words[1:]
        handler = getattr(self, f"_cmd_{command}", None)
        if command not in LINE_COMMANDS or handler is None:
            if is_cell_option(command):  # %deepseek --map df
                raise UsageError(
                    f"'{command}' is an option of a %%deepseek cell: write %%deepseek {line.strip()} on a cell's "
                    "first line, the prompt below it"
                )
            import difflib

            close = difflib.get_close_matches(command, LINE_COMMANDS, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise UsageError(
                f"unknown command '{command}': {hint}commands are {', '.join(LINE_COMMANDS)}; "
                "a prompt goes in a %%deepseek cell"
            )
        return handler(rest)

    def _cmd_help(self, rest: list[str]) -> Notice:
        return Notice(self.help_text, title="%deepseek", pre=True)

    def _cmd_reset(self, rest: list[str]) -> Notice:
        session = _existing(self.runtime.registry, session_parser("reset").parse_args(rest).session)
        session.reset()
        text = f"Session {session.name!r} reset: the next cell starts a new conversation."
        return Marked(text, "reset", session.name)  # the notebook keeps what happened (restore reads it)

    def _cmd_history(self, rest: list[str]) -> Any:
        """Each turn compactly (a few lines, expandable in HTML; 100 columns as text)."""
        from ..display.history import HistoryView

        session = _existing(self.runtime.registry, session_parser("history").parse_args(rest).session)
        return HistoryView(session.name, session.turns)

    def _cmd_config(self, rest: list[str]) -> Table:
        """Every setting in force (the one list of :mod:`~evo_magic.notebook.settings`), then
        where requests go; the key shows its last four characters only."""
        if rest:
            raise UsageError("%deepseek config takes no arguments; use %config DeepSeekMagics.NAME = VALUE")
        try:
            endpoint = self.runtime.endpoint()
        except ConfigError as exc:
            raise UsageError(exc.one_line()) from None
        key = f"{endpoint.key.masked} (from {endpoint.key_source})" if endpoint.key else "not set"
        urls = ", ".join(config.shown_url(u) for u in endpoint.base_urls)
        if endpoint.url_source and not endpoint.offline:
            source = endpoint.url_source
            urls += f" ({source})" if source == "default" else f" (from {source})"
        rows: list[list[Any]] = settings.shown(self.setting_values())
        rows += [
            ["base URLs", urls],
            ["API key", "the emulator's own" if endpoint.offline else key],
            ["offline", "yes, bundled emulator" if endpoint.offline else "no"],
            ["sessions", ", ".join(self.runtime.registry.sessions) or "(none yet)"],
        ]
        return Table("evo_magic settings", ["setting", "value"], rows, note="\n".join(endpoint.notes) or None)

    def _cmd_undo(self, rest: list[str]) -> Notice:
        session = _existing(self.runtime.registry, session_parser("undo").parse_args(rest).session)
        try:
            turn = session.undo()
        except OptionError as exc:
            raise UsageError(exc.one_line()) from None
        text = f"Dropped the last turn of session {session.name!r}: {_short(turn.prompt)!r}."
        return Marked(text, "undo", session.name, request=turn.reply.request_key)

    def _cmd_restore(self, rest: list[str]) -> Notice:
        """Rebuild the session's conversation from this notebook's ledger (after a restart), or
        from the notebook file when the ledger has none of its turns (``--from PATH``: that file)."""
        from .restore import restore

        p = session_parser("restore")
        p.add_argument("--from", dest="source", metavar="PATH")
        args = p.parse_args(rest)
        if args.source is not None and not args.source.strip():
            raise UsageError("--from needs a notebook file, like --from analysis.ipynb")
        session = self.runtime.registry.get(args.session)
        try:
            return restore(self.runtime, session, args.source)
        except EvoMagicError as exc:  # the ledger unreadable, the session busy in the panel
            raise UsageError(exc.one_line()) from None

    def _cmd_panel(self, rest: list[str]) -> Any:
        """A chat panel on the session, beside the cells (needs a Jupyter front end)."""
        args = session_parser("panel").parse_args(rest)
        from ..display.live import auto_mode
        from ..panels.panel import ChatPanel

        if auto_mode() != "widget":
            raise UsageError(
                "the chat panel needs a Jupyter front end (JupyterLab, Notebook 7, VS Code); "
                "here, ask in %%deepseek cells or with evo_magic.session().ask()"
            )
        try:
            return ChatPanel(args.session, runtime=self.runtime)
        except ImportError as exc:
            raise UsageError(f"the panel needs ipywidgets and anywidget: {exc}") from None

    def _cmd_fix(self, rest: list[str]) -> Any:
        """Explain the last exception and put a corrected cell below."""
        from .args import parse_cell

        args = parse_cell(rest)
        args.fix = True
        self._ask(args, self._fix_prompt(""))  # the live view shows the answer

    def _cmd_usage(self, rest: list[str]) -> Any:
        """This notebook's totals per session and model and its spend over time (``--all``:
        every notebook); ``--csv PATH`` writes the requests to a CSV file instead."""

        p = MagicArgumentParser(prog="%deepseek usage", add_help=False)
        p.add_argument("--all", action="store_true")
        p.add_argument("--csv", metavar="PATH")
        args = p.parse_args(rest)
        if args.csv is None:
            return self.runtime.accounting.usage(all_notebooks=args.all)
        if not args.csv.strip():
            raise UsageError("--csv needs a file path, like --csv usage.csv")
        rows = self.runtime.accounting.rows(all_notebooks=args.all)
        try:
            path = rows.to_csv(args.csv)
        except OSError as exc:
            raise UsageError(f"cannot write {args.csv}: {exc.strerror or exc}") from None
        return Notice(f"Wrote {len(rows):,} row{'' if len(rows) == 1 else 's'} to {path}")

    def _cmd_budget(self, rest: list[str]) -> Notice:
        """``%deepseek budget 2.00`` sets this notebook's limit in USD; ``off`` removes it; bare,
        it tells the limit and this notebook's billed spend."""
        if not rest:
            return _budget_status(self.runtime.accounting, self.budget)
        if len(rest) != 1:
            raise UsageError("usage: %deepseek budget AMOUNT (USD) or %deepseek budget off")
        if rest[0].lower() in ("off", "none"):
            self.budget = None
            return Notice("No budget for this notebook.")
        try:
            self.budget = float(rest[0].lstrip("$"))
        except ValueError:
            raise UsageError(f"the budget is an amount in USD like 2.00, not {rest[0]!r}") from None
        except TraitError:  # nan, inf, negative or zero
            raise UsageError(
                f"the budget must be a positive amount of USD like 2.00, not {rest[0]!r}; "
                "%deepseek budget off removes the limit"
            ) from None
        amount = format_money(Decimal(str(self.budget)))
        return Notice(f"Budget for this notebook: {amount}; a warning from 80 %, requests past it are refused.")

    def _cmd_pick(self, rest: list[str]) -> Notice:
        p = session_parser("pick")
        p.add_argument("choice", type=int)
        args = p.parse_args(rest)
        session = _existing(self.runtime.registry, args.session)
        try:
            session.pick(args.choice - 1)
        except OptionError as exc:
            raise UsageError(exc.one_line()) from None
        text = f"Session {session.name!r} continues from choice {args.choice}."
        request = session.turns[-1].reply.request_key
        return Marked(text, "pick", session.name, request=request, choice=args.choice - 1)

    def _cmd_continue(self, rest: list[str]) -> None:
        """Continue the last answer, cut at max_tokens (notebook/continuing.py)."""
        args = continuing.continue_parser().parse_args(rest)
        self._continue(_existing(self.runtime.registry, args.session), args)

    def _cmd_offline(self, rest: list[str]) -> Notice:
        p = MagicArgumentParser(prog="%deepseek offline", add_help=False)
        p.add_argument("--rate", type=float, default=None)
        p.add_argument("--if-no-key", action="store_true")
        p.add_argument("--off", action="store_true")
        args = p.parse_args(rest)
        from . import offline

        if args.off:
            return offline.go_online(self.runtime)
        if args.rate is not None and args.rate <= 0:
            raise UsageError("--rate is tokens per second and must be positive")
        rate = self.prefs.offline_rate if args.rate is None else args.rate
        return offline.go_offline(self.runtime, rate=rate, if_no_key=args.if_no_key)

    def _cmd_cache(self, rest: list[str]) -> Notice:
        """``%deepseek cache on|off|refresh|replay-only`` sets this kernel's answer cache; bare,
        it tells the mode and what caching saved this notebook."""
        from .caching import cache_status, parse_command

        if rest:
            self.cache = parse_command(rest)  # the trait: %deepseek config shows it, the accounting uses it
        acc = self.runtime.accounting
        return cache_status(acc, acc.cache, changed=bool(rest))
