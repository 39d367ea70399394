"""The ``%%deepseek`` cell magic and ``%deepseek`` line commands (thin IO shell).

:class:`DeepSeekMagics` is three mixins on IPython's ``Magics``: the cell
(:class:`~evo_magic.notebook.cell.CellMagic`), the line commands
(:class:`~evo_magic.notebook.commands.LineCommands`) and the ``%config`` feedback
(:class:`~evo_magic.notebook.feedback.ConfigFeedback`). Its configurable traits are made from
the one list of settings (:mod:`evo_magic.notebook.settings`); one validator and one observer
serve them all. Misuse raises IPython's ``UsageError`` (one line, no traceback, no network
call); API failures render inside the answer's output and end the cell with a one-line error.
"""

from __future__ import annotations

import inspect
import os
from typing import Any

from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from IPython.display import display
from traitlets import TraitError, observe, validate

from ..core.options import MODELS
from ..display.live import auto_mode
from ..display.notices import Notice
from ..errors import EvoMagicError
from ..runtime import Runtime, root
from . import args as magic_args
from . import settings, warmup
from .cell import CellMagic, LastError
from .commands import LineCommands
from .continuing import ContinueCommand
from .feedback import ConfigFeedback
from .fim import FimCell


@magics_class
class DeepSeekMagics(ConfigFeedback, Magics, LineCommands, ContinueCommand, FimCell, CellMagic):
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
      --stop TEXT          stop sequence (repeat for more, up to 16); \\n, \\t and \\\\
                           in it are a newline, a tab and one backslash (quote it)
      --json               JSON mode (response_format json_object); invalid JSON is
                           retried once
      -n N                 1..8 choices; all are shown, the first continues the chat
                           (%deepseek pick K continues from choice K)
      --logprobs           token log-probabilities: the tokens shaded by probability
      --top-logprobs N     0..20 alternatives per token (needs --logprobs)
      --logit-bias SPEC    TOKEN:BIAS pairs (-100..100), e.g. 1234:-100,99:5, or JSON
      --seed N, --user ID  passed through
    Prefix and fill in the middle
      --prefix TEXT        the start of the answer, which the model continues; it is
                           part of the answer and of the history. Escapes as in --stop:
                           --prefix "```python\\n" --stop "```" -f code puts bare
                           code in the next cell
      --prefix-reasoning TEXT
                           the start of the thinking too (thinking on; --prefix "" to
                           start only the thinking)
      --fim                the body is code with one <FILL>: the model fills it in
                           (no thinking, no tools; --max-tokens up to 4,096, default
                           1,024); shown with the fill marked; -f code puts the
                           completed code in the next cell; not a turn of the chat
      Routes: %config DeepSeekMagics.prefix_path (default /beta/chat/completions)
      and fim_path (default /beta/completions), relative to the base URLs.
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
      --cache / --no-cache answer this cell from the answer cache (its exact request
                           answered before: no request, $0) / ask again
    Structured answers and tables
      --schema NAME        a pydantic model, dataclass, TypedDict or JSON Schema dict of
                           the notebook: the answer is validated (-o gets the object)
      --map NAME           the body is a row template run over every row of the table
                           NAME ({column} is a row placeholder, {row.name} always;
                           other {expr} run once); -o gets the result table
      --estimate           with --map: the rows, tokens and cost range, nothing sent
      --concurrency N      with --map: requests in flight (default 32)
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
      %deepseek restore [-s NAME] [--from PATH]
                                      after a kernel restart, rebuild the conversation
                                      from this notebook's usage ledger, or (a notebook
                                      from elsewhere) from the notebook file itself
      %deepseek panel [-s NAME]       a chat panel on the session (same conversation
                                      as the cells; Enter sends, Shift+Enter newline)
      %deepseek pick K [-s NAME]      continue from choice K of the last n > 1 answer
      %deepseek continue [--max-tokens N] [-s NAME]
                                      continue the last answer, cut at max_tokens (also
                                      one whose thinking used it all), in the same turn
      %deepseek fix [options]         explain the last error, corrected cell below
      %deepseek config                effective settings (the key shows its last 4 chars)
      %deepseek usage [--all] [--csv PATH]
                                      tokens and cost per session and model, spend over
                                      time (--all: every notebook; --csv: write the requests)
      %deepseek budget [AMOUNT|off]   this notebook's spending limit in USD (bare: the
                                      limit and what this notebook has spent)
      %deepseek offline [--rate R] [--if-no-key] [--off]
                                      answer from the bundled EvoLink emulator
      %deepseek cache [off|on|refresh|replay-only]
                                      the answer cache: on replays a re-run exact
                                      request for $0, refresh asks again and keeps the
                                      new answer, replay-only makes a miss an error
                                      (bare: the mode and what caching saved;
                                      headless runs: EVO_MAGIC_CACHE=on|replay-only)

    Defaults: %config DeepSeekMagics.model = "deepseek-v4-pro" (also extra_models,
    protocol, thinking, max_tokens, temperature, read_timeout, connect_timeout,
    max_retries, max_tool_rounds, max_tool_calls, prefix_path, fim_path, budget, prices,
    cache, live, value_tokens, offline_rate; %deepseek config lists them).
    The API key comes from EVOLINK_API_KEY (environment or a .env file in the working
    directory); EVOLINK_BASE_URL overrides the base URLs (comma-separated fallback list).
    """

    locals().update(settings.traits())  # one configurable trait per setting

    def __init__(self, shell: Any = None, runtime: Runtime | None = None, **kwargs: Any):
        self.runtime = runtime or root()
        self.prefs = settings.Prefs()
        super().__init__(shell=shell, **kwargs)
        self._last_error: LastError | None = None
        self.help_text = HELP
        for name in settings.BY_NAME:  # the kernel starts from this magic's values
            self.prefs = settings.apply(name, getattr(self, name), self.runtime, self.prefs)

    # --- %config plumbing ---------------------------------------------------------------
    def setting_values(self) -> dict[str, Any]:
        """Every setting's value in force."""
        return {name: getattr(self, name) for name in settings.BY_NAME}

    @validate(*settings.BY_NAME)
    def _check_setting(self, proposal: Any) -> Any:
        name, value = proposal["trait"].name, proposal["value"]
        try:
            settings.check(name, value, self.setting_values())
        except EvoMagicError as exc:
            raise TraitError(exc.one_line()) from None
        return value

    @observe(*settings.BY_NAME)
    def _on_change(self, change: Any) -> None:
        self.prefs = settings.apply(change["name"], change["new"], self.runtime, self.prefs)

    # --- the magic ----------------------------------------------------------------------
    @line_cell_magic
    @no_var_expand  # options reach the wire literally: IPython would run {expr} and expand $name
    def deepseek(self, line: str, cell: str | None = None) -> Any:
        if cell is None:
            return self._line(line)
        return self._cell(line, cell)


# `%%deepseek?` and `%deepseek?` show the magic's docstring: make it the full reference.
HELP = inspect.cleandoc(DeepSeekMagics.__doc__ or "")  # the first line is not indented
DeepSeekMagics.deepseek.__doc__ = HELP


def register(ipython: Any) -> DeepSeekMagics:
    """Load the extension into ``ipython``: the magics, the error tracking for ``{Err}``, the
    empty-body input transformer, and the kernel's runtime (notices shown in the cell); then
    the heavy imports start in the background (:mod:`~evo_magic.notebook.warmup`)."""
    runtime = root()
    runtime.accounting.user_ns, runtime.accounting.show = ipython.user_ns, display
    try:
        magics = DeepSeekMagics(ipython, parent=ipython)
    except TraitError:  # %config keeps a value the trait refused: loading must not fail on it
        _drop_refused_config(ipython)
        magics = DeepSeekMagics(ipython, parent=ipython)
    ipython.register_magics(magics)
    ipython.events.register("post_run_cell", magics._track_errors)
    if magic_args.empty_body not in ipython.input_transformers_cleanup:
        ipython.input_transformers_cleanup.append(magic_args.empty_body)
    if magics not in ipython.configurables:
        ipython.configurables.append(magics)
    warmup.start(os.environ, auto_mode())
    return magics


def _drop_refused_config(ipython: Any) -> None:
    """Drop each ``%config DeepSeekMagics`` value a trait refuses (IPython keeps it in its
    config), saying so in one line each."""
    section = ipython.config.get("DeepSeekMagics", {})
    for name in list(section):
        try:
            DeepSeekMagics(None, **{name: section[name]})
        except TraitError as exc:
            del section[name]
            display(Notice(f"ignoring %config DeepSeekMagics.{name}: {exc}", kind="warning", title="evo_magic"))
    # the failed instance had joined the shell's configurables (Magics.__init__ does that)
    ipython.configurables[:] = [c for c in ipython.configurables if not isinstance(c, DeepSeekMagics)]


def unregister(ipython: Any) -> None:
    for magics in [c for c in ipython.configurables if isinstance(c, DeepSeekMagics)]:
        ipython.events.unregister("post_run_cell", magics._track_errors)
    if magic_args.empty_body in ipython.input_transformers_cleanup:
        ipython.input_transformers_cleanup.remove(magic_args.empty_body)
    ipython.magics_manager.magics["line"].pop("deepseek", None)
    ipython.magics_manager.magics["cell"].pop("deepseek", None)
    ipython.configurables[:] = [c for c in ipython.configurables if not isinstance(c, DeepSeekMagics)]


__all__ = ["HELP", "MODELS", "DeepSeekMagics", "register", "unregister"]
