"""Option parsing of ``%%deepseek`` (IPython's argparse flavour: errors are UsageErrors)."""

from __future__ import annotations

import argparse
import json
import keyword
import re
import shlex
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic_arguments import MagicArgumentParser

from ..core.escapes import unescape
from ..core.options import EFFORTS, PROTOCOLS

FORMATS = ("markdown", "code", "text", "json")


def ask_approval(call: Any) -> bool:
    from IPython.core.error import StdinNotImplementedError

    try:
        answer = input(f"Run {call.name}({call.arguments})? [y/N] ")
    except (StdinNotImplementedError, EOFError):  # a front end that cannot ask (nbclient, papermill)
        from IPython.display import display

        from ..display.notices import Notice

        text = f"Not run: {call.name} needs approval (--approve) and this front end cannot ask for it."
        display(Notice(text, kind="warning"))
        return False
    return answer.strip().lower() in ("y", "yes")


def empty_body(lines: list[str]) -> list[str]:
    """Input transformer (cleanup): a ``%%deepseek`` cell with nothing below its first line gets
    an empty body, so the magic runs (``--fix`` needs no body; without it the magic says the
    prompt is missing) instead of IPython refusing a cell magic whose body is empty."""
    if len(lines) == 1 and re.match(r"%%deepseek(\s|$)", lines[0]):
        return [lines[0].rstrip("\n") + "\n", "\n"]
    return lines


# check_complete skips it: in a terminal, a cell magic still ends at a blank line.
empty_body.has_side_effects = True  # type: ignore[attr-defined]


def split(line: str) -> list[str]:
    """The words of a magic's line, split as a POSIX shell does (quotes removed, so
    ``--system "be terse"`` is ``be terse``); an unclosed quote is a one-line UsageError."""
    try:
        return shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"cannot parse the line: {exc}") from None


def session_name(text: str) -> str:
    """``-s NAME``: any non-blank name."""
    if not text.strip():
        raise argparse.ArgumentTypeError("a session name cannot be empty")
    return text


def system_text(text: str) -> str:
    """``--system TEXT``: any text but a blank one (which would send no system prompt at all)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("the system prompt is empty: give its text, like --system \"Be terse.\"")
    return text


def variable_name(text: str) -> str:
    """``-o VAR``: a name Python can assign to (not ``1x``, not a keyword such as ``class``)."""
    if not text.isidentifier() or keyword.iskeyword(text):
        raise argparse.ArgumentTypeError(f"needs a Python variable name, not {text!r}")
    return text


def at_least_one(noun: str) -> Any:
    """The argparse type of a count of ``noun`` that must be 1 or more (``--max-tool-rounds N``:
    0 would drop the turn at the first tool call; ``--max-tool-calls N``)."""

    def count(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            raise argparse.ArgumentTypeError(f"a whole number of {noun}, 1 or more, not {text!r}")
        return value

    return count


def _nearest(message: str, options: list[str]) -> str:
    """`` (did you mean --think or --no-think?)`` for ``unrecognized arguments: --thinking off``."""
    prefix = "unrecognized arguments: "
    words = [w.split("=", 1)[0] for w in message.removeprefix(prefix).split() if w.startswith("--")]
    if not message.startswith(prefix) or not words:
        return ""
    import difflib

    best = difflib.get_close_matches(words[0], [o for o in options if o.startswith("--")], n=1, cutoff=0.7)
    if not best:
        return ""
    pair = f"--no-{best[0][2:]}" if not best[0].startswith("--no-") else f"--{best[0][5:]}"
    named = sorted({best[0], pair} & set(options), key=len) if pair in options else best
    return f" (did you mean {' or '.join(named)}?)"


def cell_parser() -> MagicArgumentParser:
    p = MagicArgumentParser(prog="%%deepseek", add_help=False)
    p.add_argument("-m", "--model")
    think = p.add_mutually_exclusive_group()
    think.add_argument("--think", dest="thinking", action="store_const", const=True)
    think.add_argument("--no-think", dest="thinking", action="store_const", const=False)
    p.add_argument("--effort", choices=EFFORTS, dest="reasoning_effort")
    p.add_argument("--system", type=system_text)
    p.add_argument("-s", "--session", type=session_name)
    p.add_argument("--new", action="store_true")
    p.add_argument("-o", "--output", type=variable_name)
    p.add_argument("--protocol", choices=PROTOCOLS)
    p.add_argument("--temperature", type=float)
    p.add_argument("--top-p", type=float)
    p.add_argument("--frequency-penalty", type=float)
    p.add_argument("--presence-penalty", type=float)
    p.add_argument("--max-tokens", type=int)
    p.add_argument("--stop", action="append", default=[], type=unescape)  # \n, \t, \\ (core/escapes)
    p.add_argument("--prefix", type=unescape)
    p.add_argument("--prefix-reasoning", type=unescape)
    p.add_argument("--fim", action="store_true")
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
    p.add_argument("--max-tool-rounds", type=at_least_one("rounds"))
    p.add_argument("--max-tool-calls", type=at_least_one("calls"))
    cache = p.add_mutually_exclusive_group()
    cache.add_argument("--cache", dest="cache", action="store_const", const="on")
    cache.add_argument("--no-cache", dest="cache", action="store_const", const="off")
    p.add_argument("-f", "--format", choices=FORMATS, default="markdown")
    p.add_argument("--no-interpolate", dest="interpolate", action="store_false")
    p.add_argument("--fix", action="store_true")
    p.add_argument("--schema", metavar="NAME")
    p.add_argument("--map", dest="map_data", metavar="NAME")
    p.add_argument("--estimate", action="store_true")
    p.add_argument("--concurrency", type=at_least_one("requests in flight"))
    return p


def parse_cell(words: list[str]) -> Any:
    """The cell's options; misuse is a one-line UsageError, an unknown option naming the
    nearest known one (``--thinking``: did you mean --think or --no-think?)."""
    parser = cell_parser()
    try:
        return parser.parse_args(words)
    except UsageError as exc:
        raise UsageError(f"{exc}{_nearest(str(exc), list(parser._option_string_actions))}") from None


def is_cell_option(word: str) -> bool:
    """Whether ``word`` is an option of a ``%%deepseek`` cell (``--map``, ``-m``, ``--max-tokens=9``)."""
    return word.split("=", 1)[0] in cell_parser()._option_string_actions


def overrides(args: Any) -> dict[str, Any]:
    """Request options named on the cell line (None: not given)."""
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
        "json_mode": True if args.format == "json" else args.json_mode,
        "logprobs": args.logprobs,
        "top_logprobs": args.top_logprobs,
        "logit_bias": logit_bias(args.logit_bias),
        "n": args.n,
        "seed": args.seed,
        "user": args.user,
        "reasoning_effort": args.reasoning_effort,
        "tool_choice": choice,
        "prefix": args.prefix,
        "prefix_reasoning": args.prefix_reasoning,
    }


def logit_bias(spec: str | None) -> dict[str, float] | None:
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


def session_parser(prog: str) -> MagicArgumentParser:
    p = MagicArgumentParser(prog=f"%deepseek {prog}", add_help=False)
    p.add_argument("-s", "--session", type=session_name)
    return p
