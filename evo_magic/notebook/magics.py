"""The ``%%deepseek`` cell magic and ``%deepseek`` line commands (thin IO shell).

Each magic parses its options and hands over to the session. Misuse raises IPython's
``UsageError`` (one line, no traceback, no network call); API failures render inside the
answer's output and end the cell with a one-line error.
"""

from __future__ import annotations

import inspect
import math
import os
import traceback
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import IPython
from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from IPython.display import display
from traitlets import Bool, Enum, Float, Int, List, TraitError, Unicode, observe, validate

from .. import config
from ..core.options import DEFAULT_MODEL, MODELS, PROTOCOLS, RequestOptions
from ..display.notices import Notice, ToolResult
from ..errors import ConfigError, EvoMagicError, OptionError
from ..sessions.registry import registry
from ..sessions.reply import Interrupted
from ..sessions.session import SessionBusy
from ..sessions.tools import DEFAULT_MAX_TOOL_CALLS, function_tool
from . import args as magic_args
from .commands import LineCommands
from .feedback import ConfigFeedback

MAX_TRACEBACK_CHARS = 6_000


@dataclass
class LastError:
    """The last exception of a (non-deepseek) cell: what {Err} and %deepseek fix send."""

    error: BaseException
    code: str
    execution_count: int | None

    def describe(self) -> str:
        frames = self.error.__traceback__
        shell_dir = os.path.dirname(IPython.__file__)  # IPython's own frames (run_code) say nothing
        while frames is not None and frames.tb_frame.f_code.co_filename.startswith(shell_dir):
            frames = frames.tb_next
        tb = "".join(traceback.format_exception(type(self.error), self.error, frames))
        if len(tb) > MAX_TRACEBACK_CHARS:
            tb = "…" + tb[-MAX_TRACEBACK_CHARS:]
        where = f"In[{self.execution_count}]" if self.execution_count else "the failing cell"
        return f"Code of {where}:\n```python\n{self.code.rstrip()}\n```\n\nTraceback:\n```\n{tb.rstrip()}\n```"


@magics_class
class DeepSeekMagics(ConfigFeedback, Magics, LineCommands):
    """Chat with DeepSeek V4 (through EvoLink) from cells.

    Cell magic: `%%deepseek [options]` with the prompt in the cell body.

    Conversation
      -s NAME              use the named session (default: the kernel's default session)
      --new                start a new conversation in the session first
      --system TEXT        system prompt for the session (kept for later cells)
      -o VAR               store the reply (text, reasoning, usage, model) in VAR;
                           with --json, the parsed JSON object
    Model and thinking
      -m MODEL             deepseek-v4-flash (default), deepseek-v4-pro, deepseek-chat,
                           deepseek-reasoner (more: %config DeepSeekMagics.extra_models)
      --think / --no-think thinking on / off (default: the model's own; on for V4)
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
      --logprobs           token log-probabilities: the tokens shaded by probability
      --top-logprobs N     0..20 alternatives per token (needs --logprobs)
      --logit-bias SPEC    TOKEN:BIAS pairs (-100..100), e.g. 1234:-100,99:5, or JSON
      --seed N, --user ID  passed through
    Notebook context
      {name}, {expr}       run in the kernel like an f-string and interpolate the value
                           (DataFrames summarised, long values truncated); {{ }} for
                           literal braces; In[n], Out[n] and Err (the last error with its
                           cell) work too. Option values are never expanded.
      --no-interpolate     send the text as written (nothing runs)
      -f FORMAT            markdown (default), code (the answer's code goes into a new
                           cell below), text (plain text), json (JSON mode, shown as
                           indented JSON)
      --fix                explain the last error and put a corrected cell below (the
                           cell body, if any, adds instructions)
    Tools
      --tools f,g          notebook functions the model may call (schema from the
                           signature, type hints, defaults and docstring)
      --tool-choice C      auto, none, required or a function name (forced choices need
                           --no-think)
      --approve            ask before each call
      --max-tool-rounds N  bound the call/answer loop (default 8, at least 1)
      --max-tool-calls N   calls run per round (default 32, at least 1); the others are
                           answered "not run" and the answer says the cap cut in

    Line commands
      %deepseek help                  this text
      %deepseek reset [-s NAME]       forget the session's conversation
      %deepseek history [-s NAME]     the conversation so far, a few lines a turn
      %deepseek undo [-s NAME]        drop the last turn
      %deepseek restore [-s NAME]     after a kernel restart, rebuild the conversation
                                      from this notebook's usage ledger
      %deepseek panel [-s NAME]       a chat panel on the session (same conversation
                                      as the cells; Enter sends, Shift+Enter newline)
      %deepseek pick K [-s NAME]      continue from choice K of the last n > 1 answer
      %deepseek fix [options]         explain the last error, corrected cell below
      %deepseek config                effective settings (the key shows its last 4 chars)
      %deepseek usage [--all] [--csv PATH]
                                      tokens and cost per session and model, spend over
                                      time (--all: every notebook; --csv: write the requests)
      %deepseek budget [AMOUNT|off]   this notebook's spending limit in USD (bare: the
                                      limit and what this notebook has spent)
      %deepseek offline [--rate R] [--if-no-key] [--off]
                                      answer from the bundled EvoLink emulator

    Defaults: %config DeepSeekMagics.model = "deepseek-v4-pro" (also extra_models,
    thinking, protocol, max_tokens, temperature, budget, value_tokens, read_timeout,
    connect_timeout, max_retries, max_tool_calls, offline_rate, live).
    The API key comes from EVOLINK_API_KEY (environment or a .env file in the working
    directory); EVOLINK_BASE_URL overrides the base URLs (comma-separated fallback list).
    """

    model = Unicode(DEFAULT_MODEL, help="Default model for %%deepseek cells.").tag(config=True)
    extra_models = List(Unicode(), help="Model names beyond the known ones that -m may use.").tag(config=True)
    protocol = Enum(list(PROTOCOLS), "openai", help="Default wire protocol.").tag(config=True)
    thinking = Bool(
        None,
        allow_none=True,
        help="Thinking on (True) or off (False) by default; None: each model's own default "
        "(on for V4 and deepseek-reasoner, off for deepseek-chat).",
    ).tag(config=True)
    max_tokens = Int(None, allow_none=True, help="Default max_tokens.").tag(config=True)
    temperature = Float(None, allow_none=True, help="Default temperature.").tag(config=True)
    read_timeout = Float(180.0, help="Seconds without data before a stream times out.").tag(config=True)
    connect_timeout = Float(10.0, help="Seconds to establish a connection.").tag(config=True)
    max_retries = Int(
        3, help="Retries after a wait, before the first body byte (429, 5xx); a refusing or 404 base URL is skipped."
    ).tag(config=True)
    max_tool_calls = Int(DEFAULT_MAX_TOOL_CALLS, help="Tool calls run per round (the rest: not run).").tag(config=True)
    live = Enum(["auto", "widget", "text", "none"], "auto", help="Live view of answers.").tag(config=True)
    offline_rate = Float(60.0, help="Tokens per second of %deepseek offline answers.").tag(config=True)

    budget = Float(None, allow_none=True, help="Spending limit of this notebook in USD (None: no limit).").tag(
        config=True
    )
    value_tokens = Int(1000, help="Token budget per interpolated {value} in a prompt.").tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any):
        super().__init__(shell=shell, **kwargs)
        self._cell_parser = magic_args.cell_parser()
        self._last_error: LastError | None = None
        self.help_text = _HELP
        self._sync_defaults()

    # --- %config plumbing ---------------------------------------------------------------
    @validate("model", "extra_models")
    def _check_model(self, proposal: Any) -> Any:
        name, value = proposal["trait"].name, proposal["value"]
        extra = tuple(value if name == "extra_models" else self.extra_models)
        try:
            RequestOptions(model=value if name == "model" else self.model, extra_models=extra).validate()
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

    @validate("budget")
    def _check_budget(self, proposal: Any) -> Any:
        value = proposal["value"]
        if value is not None and not (math.isfinite(value) and value > 0):
            raise TraitError(f"the budget must be a positive amount of USD (None: no limit), not {value!r}")
        return value

    @validate("read_timeout", "connect_timeout", "offline_rate")
    def _check_positive(self, proposal: Any) -> Any:
        name, value = proposal["trait"].name, proposal["value"]
        if not (math.isfinite(value) and value > 0):
            unit = "tokens per second" if name == "offline_rate" else "seconds"
            raise TraitError(f"{name} is in {unit} and must be a finite number above 0, not {value!r}")
        return value

    @validate("max_retries", "value_tokens", "max_tool_calls")
    def _check_counts(self, proposal: Any) -> Any:
        from .context import MIN_VALUE_TOKENS

        name, value = proposal["trait"].name, proposal["value"]
        least = {"value_tokens": MIN_VALUE_TOKENS, "max_tool_calls": 1}.get(name, 0)
        if value < least:
            raise TraitError(f"{name} must be at least {least}, not {value!r}")
        return value

    @observe(
        "model",
        "extra_models",
        "protocol",
        "thinking",
        "max_tokens",
        "temperature",
        "read_timeout",
        "connect_timeout",
        "max_retries",
        "max_tool_calls",
        "budget",
    )
    def _on_change(self, change: Any) -> None:
        self._sync_defaults()

    def _sync_defaults(self) -> None:
        d = registry().defaults
        d.model, d.protocol, d.thinking = self.model, self.protocol, self.thinking
        d.extra_models = tuple(self.extra_models)
        d.max_tokens, d.temperature = self.max_tokens, self.temperature
        d.read_timeout, d.connect_timeout = self.read_timeout, self.connect_timeout
        d.max_retries, d.max_tool_calls = self.max_retries, self.max_tool_calls
        from ..ledger.accounting import current

        current().budget = None if self.budget is None else Decimal(str(self.budget))

    # --- the magic ----------------------------------------------------------------------
    @line_cell_magic
    @no_var_expand  # options reach the wire literally: IPython would run {expr} and expand $name
    def deepseek(self, line: str, cell: str | None = None) -> Any:
        if cell is None:
            return self._line(line)
        return self._cell(line, cell)

    def _cell(self, line: str, cell: str) -> None:
        args = self._cell_parser.parse_args(magic_args.split(line))
        prompt = cell.strip()
        if args.fix:
            prompt = self._fix_prompt(prompt)
        elif not prompt:
            raise UsageError("the cell has no prompt: write your question below %%deepseek")
        elif args.interpolate:
            prompt = self._interpolate(prompt)
        self._ask(args, prompt)

    def _ask(self, args: Any, prompt: str) -> Any:
        """Validate, send through the session with a live view, show extras, store -o."""
        session = registry().get(args.session)
        overrides = magic_args.overrides(args)
        tools = self._tools(args.tools)
        if not tools and not session.tools:
            given = {"--tool-choice": args.tool_choice, "--approve": args.approve}
            given.update({"--max-tool-rounds": args.max_tool_rounds, "--max-tool-calls": args.max_tool_calls})
            for flag in (flag for flag, value in given.items() if value):
                raise UsageError(f"{flag} needs tools for the model to call: add --tools f,g")
        try:
            if tools:
                overrides["tools"] = tuple(function_tool(fn, name) for name, fn in tools.items())
            opts = session.options(**overrides).validate()
            endpoint = config.resolve()
            self._tell(endpoint.notes)  # e.g. why a .env was ignored, before "no key" says it is missing
            endpoint.require_key()
        except (OptionError, ConfigError) as exc:
            raise UsageError(exc.one_line()) from None
        overrides.pop("tools", None)
        if args.new:
            session.reset()
        mode = "text" if args.format == "text" and self.live != "none" else self.live
        as_json = args.format == "json"
        factory = None
        if mode != "none":
            from ..display.live import open_view

            def factory() -> Any:
                return open_view(mode, model=opts.model, as_json=as_json, choices=opts.n)

        try:
            reply = session.ask(
                prompt,
                system=args.system,
                cell=self._execution_count(),
                cell_id=self._front_end_cell_id(),
                view_factory=factory,
                tools=tools or None,
                approve=magic_args.ask_approval if args.approve else None,
                on_tool=lambda call, text, ok: display(ToolResult(call, text, ok)),
                max_tool_rounds=args.max_tool_rounds,
                max_tool_calls=args.max_tool_calls,
                **overrides,
            )
        except Interrupted as exc:
            self._store(args.output, exc.reply)
            raise
        except (SessionBusy, OptionError) as exc:
            raise UsageError(exc.one_line()) from None
        except EvoMagicError as exc:
            self._store(args.output, getattr(exc, "reply", None))
            raise
        if factory is None:  # no live view: the answer once, as the live view would end
            from ..display.live import reply_bundle

            display(reply_bundle(reply.snapshot, reply.footer, as_json=as_json), raw=True)
        self._show_extras(reply, opts, args.format, fix=args.fix)
        self._store(args.output, reply.data if opts.json_mode else reply)
        return reply

    def _interpolate(self, prompt: str) -> str:
        from .context import interpolate

        extra = {"Err": self._last_error.describe()} if self._last_error is not None else {}
        missing = {"Err": "there is no error yet to refer to; {Err} is the last exception a cell raised"}
        try:
            return interpolate(prompt, self._user_ns, value_tokens=self.value_tokens, extra=extra, missing=missing)
        except OptionError as exc:
            raise UsageError(exc.one_line()) from None

    def _fix_prompt(self, extra: str) -> str:
        if self._last_error is None:
            raise UsageError("there is no error to fix: run the failing cell first")
        ask = (
            "This notebook cell raised an exception. Explain the cause in a few sentences, then "
            "give the corrected version of the whole cell in a single ```python code block."
        )
        if extra:
            ask += f"\n\nAlso: {extra}"
        return f"{ask}\n\n{self._last_error.describe()}"

    def _tools(self, spec: str | None) -> dict[str, Any]:
        """The functions named by --tools, under the names the notebook knows them by."""
        if not spec:
            return {}
        found = {}
        for name in (n.strip() for n in spec.split(",") if n.strip()):
            fn = self._user_ns.get(name)
            if fn is None:
                raise UsageError(f"--tools: no function named {name!r} in the notebook")
            if not callable(fn):
                raise UsageError(f"--tools: {name!r} is a {type(fn).__name__}, not a function")
            found[name] = fn
        return found

    def _show_extras(self, reply: Any, opts: RequestOptions, fmt: str, *, fix: bool = False) -> None:
        """What the answer does not show: the logprobs view, and code for a new cell below
        (-f code, --fix). The answer itself shows every choice and, with -f json, the JSON."""
        if opts.logprobs and reply.snapshot.choice(0).logprobs:
            from ..display.logprobs import LogprobsView

            display(LogprobsView(reply.snapshot.choice(0).logprobs))
        if fmt == "code" or fix:
            from .context import code_blocks

            code = code_blocks(reply.text, first_only=fix)
            if code and self.shell is not None:
                self.shell.set_next_input(code, replace=False)
                display(Notice("The code is in a new cell below, ready to run.", title="Code"))
            elif not code:
                display(Notice("The answer has no code block to put in a cell.", kind="warning"))

    @property
    def _user_ns(self) -> dict[str, Any]:
        return self.shell.user_ns if self.shell is not None else {}

    def _execution_count(self) -> Any:
        """The N of the running cell's In[N] (the display hook's, on IPython 8 and 9 alike)."""
        # IPython 9 counts the next cell while one runs (8 after it); prompt_count is right in both
        count = getattr(getattr(self.shell, "displayhook", None), "prompt_count", None)
        return count if isinstance(count, int) else getattr(self.shell, "execution_count", None)

    def _front_end_cell_id(self) -> str | None:
        """The cell's id as JupyterLab, Notebook 7 and VS Code send it (execute metadata)."""
        kernel = getattr(self.shell, "kernel", None)
        if kernel is None:
            return None
        try:
            parent = kernel.get_parent("shell")
        except TypeError:  # older ipykernel
            parent = kernel.get_parent()
        metadata = (parent or {}).get("metadata") or {}
        cell_id = metadata.get("cellId")
        return str(cell_id) if cell_id else None

    def _track_errors(self, result: Any) -> None:
        """post_run_cell hook: remember the last failing cell for {Err} and %deepseek fix."""
        error = getattr(result, "error_in_exec", None)
        code = getattr(getattr(result, "info", None), "raw_cell", "") or ""
        if error is None or code.lstrip().startswith(("%%deepseek", "%deepseek")):
            return
        self._last_error = LastError(error, code, getattr(result, "execution_count", None))

    def _store(self, name: str | None, value: Any) -> None:
        if name and value is not None:
            self._user_ns[name] = value


# `%%deepseek?` and `%deepseek?` show the magic's docstring: make it the full reference.
_HELP = inspect.cleandoc(DeepSeekMagics.__doc__ or "")  # the first line is not indented
DeepSeekMagics.deepseek.__doc__ = _HELP


def register(ipython: Any) -> DeepSeekMagics:
    try:
        magics = DeepSeekMagics(ipython, parent=ipython)
    except TraitError:  # %config keeps a value the trait refused: loading must not fail on it
        section = ipython.config.get("DeepSeekMagics", {})
        for name in list(section):
            try:
                DeepSeekMagics(None, **{name: section[name]})
            except TraitError as exc:
                del section[name]
                print(f"evo_magic: ignoring %config DeepSeekMagics.{name}: {exc}")
        # the failed instance had joined the shell's configurables (Magics.__init__ does that)
        ipython.configurables[:] = [c for c in ipython.configurables if not isinstance(c, DeepSeekMagics)]
        magics = DeepSeekMagics(ipython, parent=ipython)
    ipython.register_magics(magics)
    ipython.events.register("post_run_cell", magics._track_errors)
    if magic_args.empty_body not in ipython.input_transformers_cleanup:
        ipython.input_transformers_cleanup.append(magic_args.empty_body)
    from ..ledger.accounting import install
    install(ipython.user_ns, display)
    if magics not in ipython.configurables:
        ipython.configurables.append(magics)
    return magics


def unregister(ipython: Any) -> None:
    for magics in [c for c in ipython.configurables if isinstance(c, DeepSeekMagics)]:
        ipython.events.unregister("post_run_cell", magics._track_errors)
    if magic_args.empty_body in ipython.input_transformers_cleanup:
        ipython.input_transformers_cleanup.remove(magic_args.empty_body)
    ipython.magics_manager.magics["line"].pop("deepseek", None)
    ipython.magics_manager.magics["cell"].pop("deepseek", None)
    ipython.configurables[:] = [c for c in ipython.configurables if not isinstance(c, DeepSeekMagics)]


__all__ = ["MODELS", "DeepSeekMagics", "register", "unregister"]
