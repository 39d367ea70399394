"""The ``%%deepseek`` cell magic and ``%deepseek`` line commands (thin IO shell).

Each magic parses its options and hands over to the session. Misuse raises IPython's
``UsageError`` (one line, no traceback, no network call); API failures render inside the
answer's output and end the cell with a one-line error.
"""

from __future__ import annotations

import shlex
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import MagicArgumentParser
from IPython.display import display
from traitlets import Bool, Enum, Float, Int, TraitError, Unicode, observe, validate

from . import config
from .errors import ConfigError, EvoMagicError, OptionError
from .notices import Notice, Table
from .options import DEFAULT_MODEL, MODELS, PROTOCOLS, RequestOptions
from .reply import Interrupted
from .sessions import SessionBusy, registry

LINE_COMMANDS = ("help", "reset", "history", "config", "offline")


def _cell_parser() -> MagicArgumentParser:
    p = MagicArgumentParser(prog="%%deepseek", add_help=False)
    p.add_argument("-m", "--model")
    think = p.add_mutually_exclusive_group()
    think.add_argument("--think", dest="thinking", action="store_const", const=True)
    think.add_argument("--no-think", dest="thinking", action="store_const", const=False)
    p.add_argument("--system")
    p.add_argument("-s", "--session")
    p.add_argument("--new", action="store_true")
    p.add_argument("-o", "--output")
    p.add_argument("--temperature", type=float)
    p.add_argument("--max-tokens", type=int)
    p.add_argument("--protocol", choices=PROTOCOLS)
    return p


def _session_parser(prog: str) -> MagicArgumentParser:
    p = MagicArgumentParser(prog=f"%deepseek {prog}", add_help=False)
    p.add_argument("-s", "--session")
    return p


@magics_class
class DeepSeekMagics(Magics):
    """Chat with DeepSeek V4 (through EvoLink) from cells.

    Cell magic::

        %%deepseek [-m MODEL] [--think | --no-think] [--system TEXT] [-s NAME] [--new]
                   [-o VAR] [--temperature T] [--max-tokens N] [--protocol openai]
        Your prompt, any number of lines.

    -m MODEL         deepseek-v4-flash (default), deepseek-v4-pro, deepseek-chat,
                     deepseek-reasoner
    --think          thinking on (the API's default for the V4 models)
    --no-think       thinking off: sends thinking {"type": "disabled"}
    --system TEXT    system prompt for this session (kept for later cells)
    -s NAME          use the named session instead of the default one
    --new            start a new conversation in the session first
    -o VAR           store the reply object (text, reasoning, usage, model) in VAR
    --temperature T  0..2 (no effect in thinking mode)
    --max-tokens N   1..384000, reasoning tokens included

    Line commands::

        %deepseek help                  this text
        %deepseek reset [-s NAME]       forget the session's conversation
        %deepseek history [-s NAME]     the conversation so far, with each turn's cell
        %deepseek config                effective settings (the key shows its last 4 chars)
        %deepseek offline [--rate R] [--if-no-key] [--off]
                                        answer from the bundled EvoLink emulator

    Defaults: %config DeepSeekMagics.model = "deepseek-v4-pro" (also thinking, protocol,
    max_tokens, temperature, read_timeout, connect_timeout, max_retries, live).
    The API key comes from EVOLINK_API_KEY (environment or a .env file in the working
    directory); EVOLINK_BASE_URL overrides the base URLs (comma-separated fallback list).
    """

    model = Unicode(DEFAULT_MODEL, help="Default model for %%deepseek cells.").tag(config=True)
    protocol = Enum(list(PROTOCOLS), "openai", help="Default wire protocol.").tag(config=True)
    thinking = Bool(True, help="Thinking mode by default (the API's default).").tag(config=True)
    max_tokens = Int(None, allow_none=True, help="Default max_tokens.").tag(config=True)
    temperature = Float(None, allow_none=True, help="Default temperature.").tag(config=True)
    read_timeout = Float(180.0, help="Seconds without data before a stream times out.").tag(
        config=True
    )
    connect_timeout = Float(10.0, help="Seconds to establish a connection.").tag(config=True)
    max_retries = Int(3, help="Retries before the first body byte (429/5xx/refused).").tag(
        config=True
    )
    live = Enum(["auto", "widget", "text", "none"], "auto", help="Live view of answers.").tag(
        config=True
    )
    offline_rate = Float(60.0, help="Tokens per second of %deepseek offline answers.").tag(
        config=True
    )

    def __init__(self, shell: Any = None, **kwargs: Any):
        super().__init__(shell=shell, **kwargs)
        self._cell_parser = _cell_parser()
        self._sync_defaults()

    # --- %config plumbing ---------------------------------------------------------------
    @validate("model")
    def _check_model(self, proposal: Any) -> str:
        value = str(proposal["value"])
        try:
            RequestOptions(model=value).validate()
        except OptionError as exc:
            raise TraitError(str(exc)) from None
        return value

    @validate("max_tokens", "temperature")
    def _check_numbers(self, proposal: Any) -> Any:
        name, value = proposal["trait"].name, proposal["value"]
        try:
            RequestOptions(**{name: value}).validate()
        except OptionError as exc:
            raise TraitError(str(exc)) from None
        return value

    @observe("model", "protocol", "thinking", "max_tokens", "temperature", "read_timeout",
             "connect_timeout", "max_retries")
    def _on_change(self, change: Any) -> None:
        self._sync_defaults()

    def _sync_defaults(self) -> None:
        d = registry().defaults
        d.model, d.protocol, d.thinking = self.model, self.protocol, self.thinking
        d.max_tokens, d.temperature = self.max_tokens, self.temperature
        d.read_timeout, d.connect_timeout = self.read_timeout, self.connect_timeout
        d.max_retries = self.max_retries

    # --- the magic ----------------------------------------------------------------------
    @line_cell_magic
    def deepseek(self, line: str, cell: str | None = None) -> Any:
        if cell is None:
            return self._line(line)
        return self._cell(line, cell)

    def _cell(self, line: str, cell: str) -> None:
        args = self._cell_parser.parse_argstring(line)
        prompt = cell.strip()
        if not prompt:
            raise UsageError("the cell has no prompt: write your question below %%deepseek")
        session = registry().get(args.session)
        overrides = {
            "model": args.model, "thinking": args.thinking, "temperature": args.temperature,
            "max_tokens": args.max_tokens, "protocol": args.protocol,
        }
        try:
            opts = session.options(**overrides).validate()
            config.resolve().require_key()
        except (OptionError, ConfigError) as exc:
            raise UsageError(exc.one_line()) from None
        if args.output and not args.output.isidentifier():
            raise UsageError(f"-o needs a Python variable name, not {args.output!r}")
        if args.new:
            session.reset()
        from .live import open_view

        view = open_view(self.live, model=opts.model)
        try:
            reply = session.ask(
                prompt, system=args.system, view=view, cell=self._cell_id(), **overrides
            )
        except Interrupted as exc:
            self._store(args.output, exc.reply)
            raise
        except SessionBusy as exc:
            raise UsageError(exc.one_line()) from None
        except EvoMagicError as exc:
            self._store(args.output, getattr(exc, "reply", None))
            raise
        self._store(args.output, reply)
        if not getattr(view, "shows_answer", True):
            display(reply)

    def _cell_id(self) -> Any:
        return getattr(self.shell, "execution_count", None)

    def _store(self, name: str | None, value: Any) -> None:
        if name and value is not None:
            self.shell.user_ns[name] = value

    # --- line commands ------------------------------------------------------------------
    def _line(self, line: str) -> Any:
        try:
            words = shlex.split(line)
        except ValueError as exc:
            raise UsageError(f"cannot parse the line: {exc}") from None
        if not words:
            return Notice(_HELP, title="%deepseek")
        command, rest = words[0], words[1:]
        handler = getattr(self, f"_cmd_{command}", None)
        if command not in LINE_COMMANDS or handler is None:
            import difflib

            close = difflib.get_close_matches(command, LINE_COMMANDS, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise UsageError(
                f"unknown command '{command}': {hint}commands are {', '.join(LINE_COMMANDS)}; "
                "a prompt goes in a %%deepseek cell"
            )
        return handler(rest)

    def _cmd_help(self, rest: list[str]) -> Notice:
        return Notice(_HELP, title="%deepseek")

    def _cmd_reset(self, rest: list[str]) -> Notice:
        args = _session_parser("reset").parse_args(rest)
        session = registry().get(args.session)
        session.reset()
        return Notice(f"Session {session.name!r} reset: the next cell starts a new conversation.")

    def _cmd_history(self, rest: list[str]) -> Table:
        args = _session_parser("history").parse_args(rest)
        session = registry().get(args.session)
        rows = []
        for i, turn in enumerate(session.turns, 1):
            cell = f"In[{turn.cell}]" if isinstance(turn.cell, int) else (turn.cell or "")
            u = turn.reply.usage
            tokens = f"{u.prompt_tokens:,} in / {u.completion_tokens:,} out" if u else "unknown"
            rows.append([i, cell, turn.prompt, turn.reply.text, turn.reply.model, tokens])
        return Table(
            f"Session {session.name!r}: {len(session.turns)} turns",
            ["#", "cell", "you", "deepseek", "model", "tokens"], rows,
        )

    def _cmd_config(self, rest: list[str]) -> Table:
        if rest:
            raise UsageError("%deepseek config takes no arguments; use %config DeepSeekMagics.NAME = VALUE")
        try:
            endpoint = config.resolve()
        except ConfigError as exc:
            raise UsageError(exc.one_line()) from None
        key = endpoint.key.masked if endpoint.key else "not set"
        rows = [
            ["model", self.model], ["protocol", self.protocol],
            ["thinking", "on" if self.thinking else "off"],
            ["max_tokens", self.max_tokens if self.max_tokens is not None else "API default"],
            ["temperature", self.temperature if self.temperature is not None else "API default"],
            ["base URLs", ", ".join(endpoint.base_urls)],
            ["API key", key + (" (emulator)" if endpoint.offline else "")],
            ["offline", "yes, bundled emulator" if endpoint.offline else "no"],
            ["read_timeout", f"{self.read_timeout:g} s"],
            ["connect_timeout", f"{self.connect_timeout:g} s"],
            ["max_retries", self.max_retries], ["live view", self.live],
            ["sessions", ", ".join(registry().sessions) or "(none yet)"],
        ]
        return Table("evo_magic settings", ["setting", "value"], rows)

    def _cmd_offline(self, rest: list[str]) -> Notice:
        p = MagicArgumentParser(prog="%deepseek offline", add_help=False)
        p.add_argument("--rate", type=float, default=None)
        p.add_argument("--if-no-key", action="store_true")
        p.add_argument("--off", action="store_true")
        args = p.parse_args(rest)
        from . import offline

        if args.off:
            return offline.go_online()
        if args.rate is not None and args.rate <= 0:
            raise UsageError("--rate is tokens per second and must be positive")
        return offline.go_offline(
            rate=self.offline_rate if args.rate is None else args.rate, if_no_key=args.if_no_key
        )


# `%%deepseek?` and `%deepseek?` show the magic's docstring: make it the full reference.
_HELP = DeepSeekMagics.__doc__ or ""
DeepSeekMagics.deepseek.__doc__ = _HELP


def register(ipython: Any) -> DeepSeekMagics:
    magics = DeepSeekMagics(ipython, parent=ipython)
    ipython.register_magics(magics)
    if magics not in ipython.configurables:
        ipython.configurables.append(magics)
    return magics


def unregister(ipython: Any) -> None:
    ipython.magics_manager.magics["line"].pop("deepseek", None)
    ipython.magics_manager.magics["cell"].pop("deepseek", None)
    ipython.configurables[:] = [c for c in ipython.configurables if not isinstance(c, DeepSeekMagics)]


__all__ = ["MODELS", "DeepSeekMagics", "register", "unregister"]
