"""Notebook functions as tools: JSON schema from the signature, and running a call (pure-ish).

``function_tool(f)`` builds the Chat Completions tool definition of a Python function from
its signature, type hints, defaults and docstring (Google, NumPy or Sphinx parameter
sections). ``run_call(f, arguments)`` runs one call and always returns text for the model:
the JSON of the result, or ``Error: <type>: <message>`` when the arguments are invalid or the
function raised, so the model can see and react to the failure. ``run_round`` runs one round of
calls, at most ``max_tool_calls`` of them: each call past the cap still gets a result (the
protocols need one per call id) saying it was not run and why.
"""

from __future__ import annotations

import enum
import inspect
import json
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeAlias

from ..core.messages import Message
from ..core.snapshot import ToolCall
from ..errors import OptionError, scrub

MAX_RESULT_CHARS = 20_000
DEFAULT_MAX_TOOL_CALLS = 32  # calls run per round; the model once made 10,000 in one round
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


#: The notebook functions a question may call, by the name the model calls them.
Functions: TypeAlias = Mapping[str, Callable[..., Any]]
#: One tool as Chat Completions describes it (``{"type": "function", "function": {...}}``).
ToolSpec: TypeAlias = Mapping[str, Any]


def _schema(tp: Any) -> dict[str, Any]:
    """JSON schema of a type hint (best effort; unknown types become unconstrained)."""
    if tp is inspect.Parameter.empty or tp is Any:
        return {}
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        non_null = [a for a in args if a is not type(None)]
        if len(non_null) == 1:
            return _schema(non_null[0])
        return {"anyOf": [_schema(a) for a in non_null]}
    if origin is typing.Literal:
        return {"enum": list(args)}
    if origin in (list, tuple, set, frozenset) or tp in (list, tuple, set, frozenset):
        out: dict[str, Any] = {"type": "array"}
        if args and args[0] is not Ellipsis:
            out["items"] = _schema(args[0])
        return out
    if origin in (dict, Mapping) or tp in (dict,):
        return {"type": "object"}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"enum": [m.value for m in tp]}
    simple = {str: "string", int: "integer", float: "number", bool: "boolean"}
    if tp in simple:
        return {"type": simple[tp]}
    return {}


def _param_docs(doc: str) -> tuple[str, dict[str, str]]:
    """Summary and per-parameter descriptions from a docstring."""
    lines = doc.splitlines()
    summary_lines: list[str] = []
    for line in lines:
        if (
            not line.strip()
            or re.match(r"^\s*(Args|Arguments|Parameters|Returns|Raises)\s*:?\s*$", line)
            or line.strip().startswith(":param")
        ):
            break
        summary_lines.append(line.strip())
    params: dict[str, str] = {}
    for m in re.finditer(r"^\s*:param\s+(?:\w+\s+)?(\w+):\s*(.+)$", doc, re.M):  # Sphinx
        params[m.group(1)] = m.group(2).strip()
    section = re.search(
        r"^\s*(?:Args|Arguments|Parameters)\s*:?\s*\n(?:\s*-+\s*\n)?(.*?)(?:\n\s*\n|\Z)",
        doc,
        re.S | re.M,
    )
    if section:
        current = None
        for line in section.group(1).splitlines():
            google = re.match(r"^\s*(\w+)\s*(?:\(([^)]*)\))?\s*:\s*(.*)$", line)
            if google:
                current = google.group(1)
                params.setdefault(current, google.group(3).strip())
            elif current and line.strip():
                params[current] = (params.get(current, "") + " " + line.strip()).strip()
    return " ".join(summary_lines).strip(), params


def function_tool(fn: Callable[..., Any], name: str | None = None) -> dict[str, Any]:
    """The tool definition (Chat Completions shape) of ``fn``."""
    if not callable(fn):
        raise OptionError(f"{fn!r} is not a function and cannot be a tool")
    tool_name = str(name or getattr(fn, "__name__", ""))
    if not _NAME.match(tool_name):
        raise OptionError(f"tool name {tool_name!r} must be 1-64 letters, digits, _ or -")
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise OptionError(f"cannot read the signature of {tool_name}: {exc}") from None
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # unresolvable forward references: fall back to raw annotations
        hints = {}
    summary, docs = _param_docs(inspect.getdoc(fn) or "")
    props: dict[str, Any] = {}
    required: list[str] = []
    for pname, param in sig.parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD) or pname in ("self", "cls"):
            continue
        schema = _schema(hints.get(pname, param.annotation))
        if pname in docs:
            schema["description"] = docs[pname]
        if param.default is param.empty:
            required.append(pname)
        elif _jsonable(param.default):
            schema["default"] = (
                param.default.value if isinstance(param.default, enum.Enum) else param.default
            )
        props[pname] = schema
    parameters: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        parameters["required"] = required
    function: dict[str, Any] = {"name": tool_name}
    function["description"] = summary or f"The notebook function {tool_name}."
    function["parameters"] = parameters
    return {"type": "function", "function": function}


def _jsonable(value: Any) -> bool:
    if isinstance(value, enum.Enum):
        value = value.value
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def run_call(fn: Callable[..., Any], arguments: str) -> tuple[str, bool]:
    """Run one tool call; returns (text for the model, ok). Never raises (except Ctrl-C)."""
    try:
        args = json.loads(arguments) if arguments.strip() else {}
    except json.JSONDecodeError as exc:
        return f"Error: the arguments are not valid JSON ({exc.msg}); send a JSON object.", False
    if not isinstance(args, dict):
        return "Error: the arguments must be a JSON object.", False
    try:
        sig = inspect.signature(fn)
        sig.bind(**args)
    except TypeError as exc:
        return f"Error: invalid arguments: {exc}", False
    except ValueError:
        pass
    try:
        result = fn(**args)
    except Exception as exc:  # the model sees the failure as the tool's result
        return f"Error: {type(exc).__name__}: {exc}", False
    return result_text(result), True


def result_text(result: Any) -> str:
    if isinstance(result, str):
        text = result
    else:
        try:
            text = json.dumps(result, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            text = repr(result)
    if len(text) > MAX_RESULT_CHARS:
        text = text[:MAX_RESULT_CHARS] + f"… [truncated, {len(text):,} characters in all]"
    return text


def tool_map(
    tools: Iterable[Callable[..., Any]] | Mapping[str, Callable[..., Any]] | None,
) -> dict[str, Callable[..., Any]]:
    """Tools by name: a mapping as given, functions by their ``__name__``."""
    if not tools:
        return {}
    if isinstance(tools, Mapping):
        return dict(tools)
    out: dict[str, Callable[..., Any]] = {}
    for fn in tools:
        name = getattr(fn, "__name__", None)
        if not callable(fn) or not name:
            raise OptionError(f"{fn!r} is not a named function and cannot be a tool")
        out[name] = fn
    return out


def call_tool(
    functions: Mapping[str, Callable[..., Any]], call: ToolCall, approve: Callable[[ToolCall], bool] | None
) -> tuple[str, bool]:
    """Run ``call`` if there is such a tool and ``approve`` (if given) agrees; (text, ok)."""
    fn = functions.get(call.name)
    if fn is None:
        return f"Error: there is no tool named {call.name!r}; use one of {', '.join(functions)}.", False
    if approve is not None and not approve(call):
        return "Error: the user declined to run this call.", False
    text, ok = run_call(fn, call.arguments)
    return scrub(text), ok  # a tool may return the key (os.environ): never sent or kept


def run_round(
    functions: Mapping[str, Callable[..., Any]],
    calls: list[ToolCall],
    *,
    cap: int,
    approve: Callable[[ToolCall], bool] | None = None,
    on_tool: Callable[[ToolCall, str, bool], None] | None = None,
) -> tuple[list[Message], str | None]:
    """The tool results of one round, in call order: the first ``cap`` calls run (``on_tool``
    sees each), the others are answered as not run. Also the notice for the user when the cap
    cut in (None when every call ran)."""
    results = []
    for call in calls[:cap]:
        text, ok = call_tool(functions, call, approve)
        results.append(Message.tool_result(call.id, text, call.name))
        if on_tool is not None:
            on_tool(call, text, ok)
    skipped = len(calls) - cap
    if skipped <= 0:
        return results, None
    text = (
        f"Error: not run: this round has {len(calls):,} tool calls and at most {cap:,} run per round "
        "(max_tool_calls); make fewer calls at a time."
    )
    results += [Message.tool_result(call.id, text, call.name) for call in calls[cap:]]
    notice = (
        f"The model made {len(calls):,} tool calls in one round: the first {cap:,} ran, the other "
        f"{skipped:,} were not run (max_tool_calls = {cap:,})."
    )
    return results, notice
