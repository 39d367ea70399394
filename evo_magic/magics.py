"""The ``%%deepseek`` cell magic and ``%deepseek`` line commands (thin IO shell).

Each magic parses its options and hands over to the session. Misuse raises IPython's
``UsageError`` (one line, no traceback, no network call); API failures render inside the
answer's output and end the cell with a one-line error.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import MagicArgumentParser
from IPython.display import display
from traitlets import Bool, Enum, Float, Int, TraitError, Unicode, observe, validate

from . import config
from .errors import ConfigError, EvoMagicError, OptionError
from .notices import Choice, Notice, Table, ToolResult, logprobs_table
from .options import DEFAULT_MODEL, EFFORTS, MODELS, PROTOCOLS, RequestOptions
from .registry import registry
from .reply import Interrupted
from .sessions import SessionBusy
from .tools import function_tool

LINE_COMMANDS = ("help", "reset", "history", "config", "offline", "pick")


def _ask_approval(call: Any) -> bool:
    answer = input(f"Run {call.name}({call.arguments})? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def _cell_parser() -> MagicArgumentParser:
    p = MagicArgumentParser(prog="%%deepseek", add_help=False)
    p.add_argument("-m", "--model")
    think = p.add_mutually_exclusive_group()
    think.add_argument("--think", dest="thinking", action="store_const", const=True)
    think.add_argument("--no-think", dest="thinking", action="store_const", const=False)
    p.add_argument("--effort", choices=EFFORTS, dest="reasoning_effort")
    p.add_argument("--system")
    p.add_argument("-s", "--session")
    p.add_argument("--new", action="store_true")
    p.add_argument("-o", "--output")
    p.add_argument("--protocol", choices=PROTOCOLS)
    p.add_argument("--temperature", type=float)
    p.add_argument("--top-p", type=float)
    p.add_argument("--frequency-penalty", type=float)
    p.add_argument("--presence-penalty", type=float)
    p.add_argument("--max-tokens", type=int)
    p.add_argument("--stop", action="append", default=[])
    p.add_argument("--json", dest="json_mode", action="store_true", default=None)
    p.add_argument("--logprobs", action="store_true", default=None)
    p.add_argument("--top-logprobs", type=int)
    p.add_argument("--logit-bias")
    p.add_argument("-n", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--user")
    p.add_argument("--tools")
    p.add_argument("--tool-choice")
    p.add_argument("--approve", action="store_true")
    p.add_argument("--max-tool-rounds", type=int)
    return p


def _logit_bias(spec: str | None) -> dict[str, float] | None:
    """``"123:5,456:-100"`` or a JSON object -> {token id: bias}."""
    if not spec:
        return None
    try:
        if spec.strip().startswith("{"):
            raw = json.loads(spec)
            return {str(k): float(v) for k, v in raw.items()}
        pairs = (item.split(":", 1) for item in spec.split(",") if item.strip())
        return {k.strip(): float(v) for k, v in pairs}
    except (ValueError, AttributeError, TypeError):
        raise UsageError(f"--logit-bias takes TOKEN:BIAS pairs like 1234:-100,99:5, not {spec!r}") from None


def _session_parser(prog: str) -> MagicArgumentParser:
    p = MagicArgumentParser(prog=f"%deepseek {prog}", add_help=False)
    p.add_argument("-s", "--session")
    return p


@magics_class
class DeepSeekMagics(Magics):
    """Chat with DeepSeek V4 (through EvoLink) from cells.

    Cell magic: ``%%deepseek [options]`` with the prompt in the cell body.

    Conversation
      -s NAME              use the named session (default: the kernel's default session)
      --new                start a new conversation in the session first
      --system TEXT        system prompt for the session (kept for later cells)
      -o VAR               store the reply (text, reasoning, usage, model) in VAR;
                           with --json, the parsed JSON object
    Model and thinking
      -m MODEL             deepseek-v4-flash (default), deepseek-v4-pro, deepseek-chat,
                           deepseek-reasoner
      --think / --no-think thinking on (the API default) / off (thinking: disabled)
      --effort LEVEL       reasoning effort: low, medium, high, max (thinking only)
      --protocol P         openai (Chat Completions, default) or anthropic (Messages)
    Sampling and output
      --max-tokens N       1..384000, reasoning tokens included
      --temperature T      0..2          --top-p P            0..1
      --frequency-penalty F, --presence-penalty F   -2..2
      --stop TEXT          stop sequence (repeat for more, up to 16)
      --json               JSON mode (response_format json_object); invalid JSON is
                           retried once
      -n N                 1..8 choices; all are shown, the first continues the chat
                           (%deepseek pick K continues from choice K)
      --logprobs           token log-probabilities, shown as a table
      --top-logprobs N     0..20 alternatives per token (needs --logprobs)
      --logit-bias SPEC    TOKEN:BIAS pairs (-100..100), e.g. 1234:-100,99:5
      --seed N, --user ID  passed through
    Tools
      --tools f,g          notebook functions the model may call (schema from the
                           signature, type hints, defaults and docstring)
      --tool-choice C      auto, none, required or a function name (forced choices need
                           --no-think)
      --approve            ask before each call
      --max-tool-rounds N  bound the call/answer loop (default 8)

    Line commands
      %deepseek help                  this text
      %deepseek reset [-s NAME]       forget the session's conversation
      %deepseek history [-s NAME]     the conversation so far, with each turn's cell
      %deepseek pick K [-s NAME]      continue from choice K of the last n > 1 answer
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
    read_timeout = Float(180.0, help="Seconds without data before a stream times out.").tag(config=True)
    connect_timeout = Float(10.0, help="Seconds to establish a connection.").tag(config=True)
    max_retries = Int(3, help="Retries before the first body byte (429/5xx/refused).").tag(config=True)
    live = Enum(["auto", "widget", "text", "none"], "auto", help="Live view of answers.").tag(config=True)
    offline_rate = Float(60.0, help="Tokens per second of %deepseek offline answers.").tag(config=True)

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

    @observe(
        "model",
        "protocol",
        "thinking",
        "max_tokens",
        "temperature",
        "read_timeout",
        "connect_timeout",
        "max_retries",
    )
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
        if args.output and not args.output.isidentifier():
            raise UsageError(f"-o needs a Python variable name, not {args.output!r}")
        session = registry().get(args.session)
        overrides = self._overrides(args)
        tools = self._tools(args.tools)
        try:
            if tools:
                overrides["tools"] = tuple(function_tool(fn) for fn in tools)
            opts = session.options(**overrides).validate()
            config.resolve().require_key()
        except (OptionError, ConfigError) as exc:
            raise UsageError(exc.one_line()) from None
        overrides.pop("tools", None)
        if args.new:
            session.reset()
        from .live import open_view

        try:
            reply = session.ask(
                prompt,
                system=args.system,
                cell=self._cell_id(),
                view_factory=lambda: open_view(self.live, model=opts.model),
                tools=tools or None,
                approve=_ask_approval if args.approve else None,
                on_tool=lambda call, text, ok: display(ToolResult(call, text, ok)),
                max_tool_rounds=args.max_tool_rounds,
                **overrides,
            )
        except Interrupted as exc:
            self._store(args.output, exc.reply)
            raise
        except SessionBusy as exc:
            raise UsageError(exc.one_line()) from None
        except OptionError as exc:
            raise UsageError(exc.one_line()) from None
        except EvoMagicError as exc:
            self._store(args.output, getattr(exc, "reply", None))
            raise
        self._show_extras(reply, opts)
        self._store(args.output, reply.data if opts.json_mode else reply)

    def _overrides(self, args: Any) -> dict[str, Any]:
        choice = args.tool_choice
        if choice is not None and choice not in ("auto", "none", "required", "any"):
            choice = {"type": "function", "function": {"name": choice}}
        return {
            "model": args.model,
            "thinking": args.thinking,
            "temperature": args.temperature,
            "max_tokens": args.max_tokens,
            "protocol": args.protocol,
            "top_p": args.top_p,
            "frequency_penalty": args.frequency_penalty,
            "presence_penalty": args.presence_penalty,
            "stop": tuple(args.stop) or None,
            "json_mode": args.json_mode,
            "logprobs": args.logprobs,
            "top_logprobs": args.top_logprobs,
            "logit_bias": _logit_bias(args.logit_bias),
            "n": args.n,
            "seed": args.seed,
            "user": args.user,
            "reasoning_effort": args.reasoning_effort,
            "tool_choice": choice,
        }

    def _tools(self, spec: str | None) -> list[Any]:
        if not spec:
            return []
        found = []
        for name in (n.strip() for n in spec.split(",") if n.strip()):
            fn = self._user_ns.get(name)
            if fn is None:
                raise UsageError(f"--tools: no function named {name!r} in the notebook")
            if not callable(fn):
                raise UsageError(f"--tools: {name!r} is a {type(fn).__name__}, not a function")
            found.append(fn)
        return found

    def _show_extras(self, reply: Any, opts: RequestOptions) -> None:
        """What the live view does not show: other choices (n > 1) and logprobs tables."""
        for i, text in enumerate(reply.choices[1:], 2):
            display(Choice(i, len(reply.choices), text))
        if opts.logprobs and reply.snapshot.choice(0).logprobs:
            display(logprobs_table(reply.snapshot.choice(0).logprobs))

    @property
    def _user_ns(self) -> dict[str, Any]:
        return self.shell.user_ns if self.shell is not None else {}

    def _cell_id(self) -> Any:
        return getattr(self.shell, "execution_count", None)

    def _store(self, name: str | None, value: Any) -> None:
        if name and value is not None:
            self._user_ns[name] = value

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
            ["#", "cell", "you", "deepseek", "model", "tokens"],
            rows,
        )

    def _cmd_config(self, rest: list[str]) -> Table:
        if rest:
            raise UsageError("%deepseek config takes no arguments; use %config DeepSeekMagics.NAME = VALUE")
        try:
            endpoint = config.resolve()
        except ConfigError as exc:
            raise UsageError(exc.one_line()) from None
        key = endpoint.key.masked if endpoint.key else "not set"
        rows: list[list[Any]] = [
            ["model", self.model],
            ["protocol", self.protocol],
            ["thinking", "on" if self.thinking else "off"],
            ["max_tokens", self.max_tokens if self.max_tokens is not None else "API default"],
            ["temperature", self.temperature if self.temperature is not None else "API default"],
            ["base URLs", ", ".join(endpoint.base_urls)],
            ["API key", key + (" (emulator)" if endpoint.offline else "")],
            ["offline", "yes, bundled emulator" if endpoint.offline else "no"],
            ["read_timeout", f"{self.read_timeout:g} s"],
            ["connect_timeout", f"{self.connect_timeout:g} s"],
            ["max_retries", self.max_retries],
            ["live view", self.live],
            ["sessions", ", ".join(registry().sessions) or "(none yet)"],
        ]
        return Table("evo_magic settings", ["setting", "value"], rows)

    def _cmd_pick(self, rest: list[str]) -> Notice:
        p = _session_parser("pick")
        p.add_argument("choice", type=int)
        args = p.parse_args(rest)
        session = registry().get(args.session)
        try:
            session.pick(args.choice - 1)
        except OptionError as exc:
            raise UsageError(exc.one_line()) from None
        return Notice(f"Session {session.name!r} continues from choice {args.choice}.")

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
