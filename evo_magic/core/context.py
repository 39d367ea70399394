"""Notebook context in prompts: ``{name}`` / ``{expression}`` interpolation and value rendering.

Pure: the caller passes the namespace. ``{{`` and ``}}`` are literal braces; text inside
fenced code blocks (```` ``` ````) is left alone, so code pasted into a prompt keeps its braces.
A ``{...}`` whose content is not a Python expression stays literal (e.g. a JSON example); an
expression that fails (an unknown name, an exception) raises :class:`InterpolationError`.

Values are described the way a data scientist would, within a token budget per value: a
DataFrame as shape, dtypes, head and a summary; arrays, long sequences, mappings and strings
truncated with a note of what was left out. pandas and numpy are never imported here: a value
is recognised by its type's module.
"""

from __future__ import annotations

import ast
import contextlib
import re
import reprlib
from collections.abc import Mapping
from typing import Any

from ..errors import OptionError

CHARS_PER_TOKEN = 4  # the fast estimate used for budgets (English text and code average ~4)
DEFAULT_VALUE_TOKENS = 1_000
MIN_VALUE_TOKENS = 20  # a value always gets at least this many tokens (80 characters)


class InterpolationError(OptionError):
    """A ``{expression}`` in the prompt could not be evaluated."""


def fence_spans(text: str) -> list[tuple[int, int]]:
    spans, pos, start = [], 0, None
    for line in text.splitlines(keepends=True):
        if line.lstrip().startswith("```"):
            if start is None:
                start = pos
            else:
                spans.append((start, pos + len(line)))
                start = None
        pos += len(line)
    if start is not None:
        spans.append((start, len(text)))
    return spans


def closing_brace(text: str, i: int) -> int:
    """Index of the ``}`` closing the ``{`` at ``i`` (brackets and quotes respected), or -1."""
    depth, quote, j = 0, "", i + 1
    while j < len(text):
        c = text[j]
        if quote:
            if c == "\\":
                j += 1
            elif c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            if depth == 0:
                return j if c == "}" else -1
            depth -= 1
        elif c == "\n":
            return -1
        j += 1
    return -1


def interpolate(
    text: str,
    namespace: Mapping[str, Any],
    *,
    value_tokens: int = DEFAULT_VALUE_TOKENS,
    extra: Mapping[str, Any] | None = None,
    missing: Mapping[str, str] | None = None,
) -> str:
    """Replace each ``{expression}`` by a description of its value (see :func:`describe`).
    ``missing`` says what an undefined name means instead of "no variable named"
    (``{Err}`` before any error)."""
    missing = missing or {}
    scope = dict(namespace)
    scope.update(extra or {})
    fences = fence_spans(text)
    out: list[str] = []
    i = 0
    while i < len(text):
        fence = next((f for f in fences if f[0] == i), None)
        if fence is not None:
            out.append(text[fence[0] : fence[1]])
            i = fence[1]
            continue
        c = text[i]
        if text.startswith("{{", i) or text.startswith("}}", i):
            out.append(c)
            i += 2
            continue
        if c == "{":
            end = closing_brace(text, i)
            expr = text[i + 1 : end].strip() if end > 0 else ""
            if end > 0 and expr and is_expression(expr):
                out.append(describe(_evaluate(expr, scope, missing), value_tokens))
                i = end + 1
                continue
            head, _, spec = expr.rpartition(":")
            if end > 0 and _FORMAT_SPEC.fullmatch(spec) and _is_reference(head):
                out.append(_formatted(_evaluate(head.strip(), scope, missing), spec, expr))
                i = end + 1
                continue
        out.append(c)
        i += 1
    return "".join(out)


_FORMAT_SPEC = re.compile(r"(?:[^\s{}]?[<>=^])?[+\- ]?z?#?0?\d*[_,]?(?:\.\d+)?[bcdeEfFgGnosxX%]?")


def _is_reference(expr: str) -> bool:
    """An expression that is not a bare literal (so ``{"a":1}`` stays JSON, not a format)."""
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError:
        return False
    return bool(expr.strip()) and not isinstance(tree.body, ast.Constant)


def is_expression(expr: str) -> bool:
    try:
        ast.parse(expr, mode="eval")
    except SyntaxError:
        return False
    return True


def _evaluate(expr: str, scope: dict[str, Any], missing: Mapping[str, str]) -> Any:
    try:
        return eval(compile(expr, "<prompt>", "eval"), scope)  # the user's own expression
    except NameError as exc:
        name = getattr(exc, "name", None) or str(exc)
        if name in missing:
            raise InterpolationError(f"{{{expr}}}: {missing[name]}") from None
        raise InterpolationError(
            f"{{{expr}}}: no variable named {name!r} in the notebook; write {{{{ and }}}} for "
            "literal braces or use --no-interpolate"
        ) from None
    except Exception as exc:
        raise InterpolationError(f"{{{expr}}} failed: {type(exc).__name__}: {exc}") from None


def _formatted(value: Any, spec: str, expr: str) -> str:
    """``{expr:spec}`` as in an f-string."""
    try:
        return format(value, spec)
    except (TypeError, ValueError) as exc:
        raise InterpolationError(f"{{{expr}}}: bad format {spec!r}: {exc}") from None


# --- value rendering ----------------------------------------------------------------------


def _clip(text: str, limit: int, unit: str = "characters") -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n… [{len(text) - limit:,} more {unit} left out]"


def _module(value: Any) -> str:
    return type(value).__module__.split(".")[0]


def describe(value: Any, tokens: int = DEFAULT_VALUE_TOKENS) -> str:
    """Text describing ``value`` for the model, at most about ``tokens`` tokens."""
    limit = max(MIN_VALUE_TOKENS, tokens) * CHARS_PER_TOKEN
    if isinstance(value, str):
        return _clip(value, limit)
    if _module(value) == "numpy" and hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()  # a numpy scalar reads as the plain number
    kind = type(value).__name__
    if _module(value) == "pandas" and kind == "DataFrame":
        return _clip(_dataframe(value), limit, "characters of the description")
    if _module(value) == "pandas" and kind == "Series":
        return _clip(_series(value), limit, "characters of the description")
    if _module(value) == "numpy" and kind == "ndarray":
        return _clip(_array(value), limit, "characters of the description")
    if isinstance(value, (list, tuple, set, frozenset)):
        return _sequence(value, limit)
    if isinstance(value, Mapping):
        return _mapping(value, limit)
    r = reprlib.Repr()
    r.maxstring, r.maxother = limit, limit
    return _clip(repr(value), limit)


def _dataframe(df: Any) -> str:
    rows, cols = df.shape
    lines = [f"pandas DataFrame: {rows:,} rows × {cols:,} columns"]
    dtypes = ", ".join(f"{c} ({t})" for c, t in list(df.dtypes.items())[:60])
    lines.append(f"columns and dtypes: {dtypes}" + (" …" if cols > 60 else ""))
    nulls = df.isna().sum()
    nulls = nulls[nulls > 0]
    if len(nulls):
        lines.append("missing values: " + ", ".join(f"{c}: {n:,}" for c, n in nulls.items()))
    lines.append(f"first {min(5, rows)} rows:\n{df.head(5).to_string(max_cols=20, max_colwidth=40)}")
    try:
        summary = df.describe(include="all").T.to_string(max_rows=40, max_colwidth=30)
        lines.append(f"summary:\n{summary}")
    except (ValueError, TypeError):
        pass
    if rows > 5:
        lines.append(f"({rows - 5:,} more rows not shown)")
    return "\n".join(lines)


def _series(s: Any) -> str:
    lines = [f"pandas Series {s.name!r}: {len(s):,} values, dtype {s.dtype}"]
    lines.append(f"first values:\n{s.head(10).to_string()}")
    with contextlib.suppress(ValueError, TypeError):
        lines.append(f"summary:\n{s.describe().to_string()}")
    return "\n".join(lines)


def _array(a: Any) -> str:
    lines = [f"numpy array: shape {a.shape}, dtype {a.dtype}, {a.size:,} elements"]
    if a.size and a.dtype.kind in "iuf":
        lines.append(f"min {a.min().item()!r}, max {a.max().item()!r}, mean {a.mean().item():.6g}")
    flat = a.ravel()
    shown = ", ".join(repr(x.item() if hasattr(x, "item") else x) for x in flat[:20])
    more = f" … ({a.size - 20:,} more)" if a.size > 20 else ""
    lines.append(f"values (flattened): [{shown}{more}]")
    return "\n".join(lines)


def _sequence(seq: Any, limit: int) -> str:
    items = list(seq)
    parts: list[str] = []
    used = 0
    for item in items:
        text = repr(item)
        if used + len(text) > limit:
            break
        parts.append(text)
        used += len(text) + 2
    kind = type(seq).__name__
    body = ", ".join(parts)
    if len(parts) < len(items):
        left = len(items) - len(parts)
        return f"{kind} of {len(items):,} items: [{body}, … ({left:,} more items left out)]"
    return repr(seq) if len(repr(seq)) <= limit else f"{kind}: [{body}]"


def _mapping(m: Mapping[Any, Any], limit: int) -> str:
    parts: list[str] = []
    used = 0
    for k, v in m.items():
        text = f"{k!r}: {reprlib.repr(v)}"
        if used + len(text) > limit:
            break
        parts.append(text)
        used += len(text) + 2
    if len(parts) < len(m):
        left = len(m) - len(parts)
        shown = ", ".join(parts)
        return f"{type(m).__name__} of {len(m):,} keys: {{{shown}, … ({left:,} more keys left out)}}"
    full = repr(dict(m)) if not isinstance(m, dict) else repr(m)
    return full if len(full) <= limit else "{" + ", ".join(parts) + "}"


def code_blocks(markdown: str, *, first_only: bool = False) -> str:
    """The fenced code of a markdown answer (Python blocks first), joined for a new cell."""
    blocks: list[tuple[str, str]] = []
    lang, inside = "", False
    lines: list[str] = []
    for line in markdown.splitlines():
        stripped = line.strip()
        if stripped.startswith("```"):
            if inside:
                blocks.append((lang, "\n".join(lines)))
                inside, lines = False, []
            else:
                inside, lang = True, stripped[3:].strip().lower()
            continue
        if inside:
            lines.append(line)
    if inside and lines:
        blocks.append((lang, "\n".join(lines)))
    python = [code for lang, code in blocks if lang in ("python", "py", "ipython", "python3", "")]
    chosen = python or [code for _, code in blocks]
    if first_only:
        chosen = chosen[:1]
    return "\n\n".join(c.strip("\n") for c in chosen)
