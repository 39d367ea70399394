"""The ``%%deepseek`` cell: from the cell's text to the session and back (a mixin of
:class:`~evo_magic.notebook.magics.DeepSeekMagics`; thin IO shell).

:class:`CellMagic` parses the option line, builds the prompt (``{value}`` interpolation,
``--fix``), looks up ``--tools``, and hands everything to
:meth:`~evo_magic.sessions.session.Session.ask`, which checks the options once: an
:class:`~evo_magic.errors.OptionError` or :class:`~evo_magic.errors.ConfigError` from it
becomes a one-line ``UsageError``. Then it shows what the answer does not (the logprobs view,
code for the next cell) and stores ``-o``.
"""

from __future__ import annotations

import os
import re
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import IPython
from IPython.core.error import UsageError
from IPython.display import display

from ..display.notices import Notice, ToolResult
from ..errors import ConfigError, EvoMagicError, OptionError
from ..sessions.reply import Interrupted, Reply
from ..sessions.session import SessionBusy
from . import args as magic_args

if TYPE_CHECKING:
    from ..core.options import RequestOptions
    from ..display.live import Lingering, ViewMode
    from ..runtime import Runtime
    from ..sessions.request import View, ViewFactory
    from .settings import Prefs

MAX_TRACEBACK_CHARS = 6_000
TOOL_FLAGS = ("tool_choice", "approve", "max_tool_rounds", "max_tool_calls")


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
        tb = _cell_names("".join(traceback.format_exception(type(self.error), self.error, frames)))
        if len(tb) > MAX_TRACEBACK_CHARS:
            tb = "…" + tb[-MAX_TRACEBACK_CHARS:]
        where = f"In[{self.execution_count}]" if self.execution_count else "the failing cell"
        return f"Code of {where}:\n```python\n{self.code.rstrip()}\n```\n\nTraceback:\n```\n{tb.rstrip()}\n```"


def _cell_names(tb: str) -> str:
    """``File "Cell In[3]"`` for each cell's file: a kernel names it by its process id
    (``/tmp/ipykernel_4242/…py``), so the same error would be another question (and another
    request key) after every restart."""
    compiler = getattr(IPython.get_ipython(), "compile", None)
    label = getattr(compiler, "format_code_name", None)
    if not callable(label):
        return tb

    def named(match: re.Match[str]) -> str:
        found = label(match.group(1))
        return f'File "{found[0]} {found[1]}"' if found else match.group(0)

    return re.sub(r'File "([^"\n]+)"', named, tb)


class CellMagic:
    """The ``%%deepseek`` cell (see the module doc)."""

    shell: Any
    runtime: Runtime
    prefs: Prefs
    _last_error: LastError | None

    if TYPE_CHECKING:  # provided by ConfigFeedback and FimCell

        def _tell(self, notes: tuple[str, ...]) -> None: ...

        def _fim(self, args: Any, body: str) -> Any: ...

    def _cell(self, line: str, cell: str) -> Any:
        args = magic_args.parse_cell(magic_args.split(line))
        if args.fim:  # the body is code with a <FILL> marker (notebook/fim.py)
            self._fim(args, cell)
            return
        if args.map_data or args.estimate or args.concurrency:
            from .mapping import map_cell

            return map_cell(self, args, cell)  # the table without -o: the cell's output
        prompt = cell.strip()
        if args.fix:
            prompt = self._fix_prompt(prompt)
        elif not prompt:
            raise UsageError("the cell has no prompt: write your question below %%deepseek")
        elif args.interpolate:
            prompt = self._interpolate(prompt)
        self._ask(args, prompt)

    def _ask(self, args: Any, prompt: str) -> Reply:
        """Send through the session with a live view, show the extras, store ``-o``."""
        session = self.runtime.registry.get(args.session)
        tools = self._tools(args.tools)
        if not tools and not session.tools:
            for flag in (f"--{name.replace('_', '-')}" for name in TOOL_FLAGS if getattr(args, name)):
                raise UsageError(f"{flag} needs tools for the model to call: add --tools f,g")
        as_json = args.format == "json"
        try:
            reply = session.ask(
                prompt,
                system=args.system,
                cell=self.execution_count(),
                cell_id=self._front_end_cell_id(),
                view_factory=self._views(args, as_json),
                tools=tools or None,
                approve=magic_args.ask_approval if args.approve else None,
                on_tool=lambda call, text, ok: display(ToolResult(call, text, ok)),
                max_tool_rounds=args.max_tool_rounds,
                max_tool_calls=args.max_tool_calls,
                new=args.new,
                schema=self.schema_named(args.schema),
                cache=args.cache,
                **magic_args.overrides(args),
            )
        except Interrupted as exc:
            self.store(args.output, exc.reply)
            raise
        except (SessionBusy, OptionError, ConfigError) as exc:
            self._tell(self.runtime.notes)  # e.g. why a .env was ignored, before "no key" says it is missing
            raise UsageError(exc.one_line()) from None
        except EvoMagicError as exc:
            self.store(args.output, exc.reply)
            raise
        self._tell(self.runtime.notes)
        if self.prefs.live == "none":  # no live view: the answer once, as the live view would end
            from ..display.live import reply_bundle
            from ..sessions.provenance import output_metadata

            bundle = reply_bundle(reply.snapshot, reply.footer, as_json=as_json)
            display(bundle, raw=True, metadata=output_metadata(reply))  # where the answer came from
        self._show_extras(reply, args.format, fix=args.fix)
        self.store(args.output, reply.data if reply.data is not None else reply)  # JSON mode: the parsed value
        return reply

    def _views(self, args: Any, as_json: bool) -> ViewFactory | None:
        """A live view per request (a tool loop makes several), as ``live`` says."""
        mode: ViewMode = "text" if args.format == "text" and self.prefs.live != "none" else self.prefs.live
        if mode == "none":
            return None

        def views(opts: RequestOptions) -> View:
            from ..display.live import open_view

            lingering = self.runtime.part(_lingering)
            return open_view(mode, model=opts.model, as_json=as_json, choices=opts.n, lingering=lingering)

        return views

    def schema_named(self, name: str | None) -> Any:
        """The schema ``--schema NAME`` names in the notebook (a model, dataclass, TypedDict, dict)."""
        if name is None:
            return None
        if name not in self.user_ns:
            raise UsageError(f"--schema: no variable named {name!r} in the notebook")
        return self.user_ns[name]

    def _interpolate(self, prompt: str) -> str:
        from ..core.context import interpolate

        extra = {"Err": self._last_error.describe()} if self._last_error is not None else {}
        missing = {"Err": "there is no error yet to refer to; {Err} is the last exception a cell raised"}
        try:
            tokens = self.prefs.value_tokens
            return interpolate(prompt, self.user_ns, value_tokens=tokens, extra=extra, missing=missing)
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
            fn = self.user_ns.get(name)
            if fn is None:
                raise UsageError(f"--tools: no function named {name!r} in the notebook")
            if not callable(fn):
                raise UsageError(f"--tools: {name!r} is a {type(fn).__name__}, not a function")
            found[name] = fn
        return found

    def _show_extras(self, reply: Reply, fmt: str, *, fix: bool = False) -> None:
        """What the answer does not show: the logprobs view, and code for a new cell below
        (-f code, --fix). The answer itself shows every choice and, with -f json, the JSON."""
        logprobs = reply.snapshot.choice(0).logprobs
        if logprobs:
            from ..display.logprobs import LogprobsView

            display(LogprobsView(logprobs))
        if fmt == "code" or fix:
            from ..core.context import code_blocks

            code = code_blocks(reply.text, first_only=fix)
            if code and self.shell is not None:
                self.shell.set_next_input(code, replace=False)
                display(Notice("The code is in a new cell below, ready to run.", title="Code"))
            elif not code:
                display(Notice("The answer has no code block to put in a cell.", kind="warning"))

    @property
    def user_ns(self) -> dict[str, Any]:
        return self.shell.user_ns if self.shell is not None else {}

    def execution_count(self) -> int | None:
        """The N of the running cell's In[N] (the display hook's, on IPython 8 and 9 alike)."""
        # IPython 9 counts the next cell while one runs (8 after it); prompt_count is right in both
        count = getattr(getattr(self.shell, "displayhook", None), "prompt_count", None)
        if isinstance(count, int):
            return count
        fallback = getattr(self.shell, "execution_count", None)
        return fallback if isinstance(fallback, int) else None

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

    def store(self, name: str | None, value: Any) -> None:
        if name and value is not None:
            self.user_ns[name] = value


def _lingering(runtime: Runtime) -> Lingering:
    """The kernel's finished cell answers kept open to hear the reader's fold choice."""
    from ..display.live import Lingering

    return Lingering()


__all__ = ["CellMagic", "LastError"]
