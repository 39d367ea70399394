"""Row templates: parsed once, rendered per row fast, laid out for DeepSeek's prefix cache (pure).

Syntax. ``{column}`` names a column; ``{row.column}`` and ``{row["unit price"]}`` (any column
name, quoted) say the same explicitly; a format spec may follow, as in f-strings:
``{price:.2f}``, ``{row.when:%Y-%m-%d}``. ``{{`` and ``}}`` are literal braces. A ``{`` that
does not start a placeholder (``{"label": ...}`` in a JSON example, ``{ }``, ``{0}``) stays
literal text, and placeholders inside it are still found. A placeholder naming no column is a
one-line :class:`~evo_magic.errors.OptionError` that lists the columns and suggests the
closest; so is ``{word ...}`` that reads like a placeholder but is not one.

Layout for the prefix cache. DeepSeek caches whole 64-token units of a prefix shared with an
earlier request, starting at token 0, so everything that is the same for every row must come
first and byte-identical, the row's own data last. :meth:`RowTemplate.messages` sends::

    system: <the template, each placeholder shown as {column}> + one line saying where the
            values are + (optional) the schema description          — identical for every row
    user:   the row's values: the value itself for one column, else a JSON object {column: value}

Placing the whole instruction in the system message (rather than splitting the template at
its first placeholder) keeps the instruction cacheable even when a placeholder sits in the
middle of it: the cached prefix is the entire instruction, up to the ``<｜User｜>`` marker,
whatever the template's shape. Because the row's text starts after a special token, its
tokens never merge with the instruction's, so the prefix's token ids are the same for every
row. A template without placeholders is sent as it is, as one user message.

Notebook interpolation next to row placeholders (a ``--map`` cell): :func:`split_cell` decides.
A ``{name…}`` whose root name is a column is a row placeholder; ``{row.…}`` always is; any
other ``{expression}`` is the cells' notebook interpolation (:func:`evo_magic.context.interpolate`),
done once before the run, its value escaped so that braces in it stay literal; a name that
is both a column and a notebook variable is an error asking for ``{row.name}``. As in cells,
fenced code blocks are not interpolated, but row placeholders are found inside them too (a
template may well put ``{code}`` in a fence).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..core.context import DEFAULT_VALUE_TOKENS, closing_brace, fence_spans, interpolate, is_expression
from ..core.messages import Message
from ..errors import OptionError, scrub

_PLACEHOLDER = re.compile(
    r"\{(?:row\.(?P<attr>[A-Za-z_]\w*)|row\[(?P<q>[\"'])(?P<key>[^\"'\n]*)(?P=q)\]|(?P<name>[A-Za-z_]\w*))"
    r"(?::(?P<spec>[^{}\n]*))?\}"
)
_ATTEMPT = re.compile(r"\{[A-Za-z_][^{}\n]*\}")  # reads like a placeholder: an error if not one
MAX_LISTED = 12  # columns listed in an error


@dataclass(frozen=True)
class Placeholder:
    """One ``{...}`` of a template: the column it names and its format spec."""

    column: str
    spec: str = ""
    written: str = ""  # as it appears in the template

    def format(self, value: object) -> str:
        if not self.spec:
            return value if isinstance(value, str) else str(value)
        try:
            return format(value, self.spec)
        except (TypeError, ValueError) as exc:
            raise OptionError(
                f"{self.written}: cannot format {type(value).__name__} value {value!r:.40} with {self.spec!r}: {exc}"
            ) from None


@dataclass(frozen=True)
class RowTemplate:
    """A compiled template: its ``parts`` (literal text and placeholders) and the ``columns``
    it uses, in order of first use."""

    source: str
    parts: tuple[str | Placeholder, ...]
    columns: tuple[str, ...]
    _pieces: tuple[Callable[[Mapping[str, object]], str], ...] = field(repr=False, compare=False, default=())

    @property
    def placeholders(self) -> tuple[Placeholder, ...]:
        return tuple(p for p in self.parts if isinstance(p, Placeholder))

    def render(self, row: Mapping[str, object]) -> str:
        """The template filled with ``row``'s values (what a single prompt would read)."""
        return "".join([piece(row) for piece in self._pieces])

    def values(self, row: Mapping[str, object]) -> dict[str, str]:
        """Each column's formatted value (the first placeholder's spec of that column wins)."""
        out: dict[str, str] = {}
        for p in self.placeholders:
            if p.column not in out:
                out[p.column] = p.format(row[p.column])
        return out

    def instruction(self, extra: str | None = None) -> str:
        """The part identical for every row: the template with ``{column}`` slots, where the
        values are, and ``extra`` (the schema description)."""
        text = "".join(p if isinstance(p, str) else "{" + p.column + "}" for p in self.parts)
        if self.columns:
            slots = _and([f"{{{c}}}" for c in self.columns])
            where = (
                f"The user message is the {slots}."
                if len(self.columns) == 1
                else f"The user message gives {slots} as a JSON object."
            )
            text = f"{text}\n\n{where}"
        return f"{text}\n\n{extra}" if extra else text

    def block(self, row: Mapping[str, object]) -> str:
        """The row's own part: its one value, or a JSON object of its values."""
        if len(self.columns) == 1:
            return next(iter(self.values(row).values()))
        return json.dumps(self.values(row), ensure_ascii=False)

    def messages(
        self, row: Mapping[str, object], *, system: str | None = None, extra: str | None = None
    ) -> list[Message]:
        """The messages of ``row``'s request: ``system`` (a session's system prompt), then the
        instruction, then the row's block (see the module docstring)."""
        head = [Message.system(scrub(system))] if system else []  # the key masked, as a cell's prompt
        if not self.columns:
            return [*head, Message.user(scrub(self.instruction(extra)))]
        return [*head, Message.system(scrub(self.instruction(extra))), Message.user(scrub(self.block(row)))]


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _column_of(m: re.Match[str]) -> str:
    return m.group("attr") or m.group("key") or m.group("name") or ""


def _listing(name: str, columns: Sequence[str]) -> str:
    listed = ", ".join(repr(c) for c in columns[:MAX_LISTED]) + (" …" if len(columns) > MAX_LISTED else "")
    close = difflib.get_close_matches(name, [str(c) for c in columns], n=1)
    return f"(columns: {listed or 'none'})" + (f"; did you mean {{{close[0]}}}?" if close else "")


def unknown_column(name: str, columns: Sequence[str], written: str) -> OptionError:
    """The one-line error for a placeholder naming no column."""
    return OptionError(f"{written}: no column named {name!r} {_listing(name, columns)}")


def compile_template(template: str, columns: Sequence[str]) -> RowTemplate:
    """Parse ``template`` against ``columns`` once; raises OptionError naming a bad placeholder."""
    known = set(columns)
    parts: list[str | Placeholder] = []
    literal: list[str] = []
    i, n = 0, len(template)
    while i < n:
        c = template[i]
        if c in "{}" and template.startswith(c * 2, i):
            literal.append(c)
            i += 2
            continue
        if c == "{":
            m = _PLACEHOLDER.match(template, i)
            if m is not None:
                column = _column_of(m)
                if column not in known:
                    raise unknown_column(column, list(columns), m.group())
                spec = m.group("spec") or ""
                if not spec_is_valid(spec):
                    raise OptionError(
                        f"{m.group()}: {spec!r} is not a format spec (as in f-strings: {{price:.2f}}, "
                        "{when:%Y-%m-%d})"
                    )
                parts.append("".join(literal))
                literal = []
                parts.append(Placeholder(column, spec, m.group()))
                i = m.end()
                continue
            attempt = _ATTEMPT.match(template, i)
            if attempt is not None:
                raise OptionError(
                    f"{attempt.group()} is not a row placeholder: write {{column}}, {{column:spec}}, {{row.column}} "
                    'or {row["any name"]}, and {{ }} for literal braces'
                )
        literal.append(c)
        i += 1
    parts.append("".join(literal))
    kept = tuple(p for p in parts if p != "")
    used = tuple(dict.fromkeys(p.column for p in kept if isinstance(p, Placeholder)))
    return RowTemplate(template, kept, used, tuple(_piece(p) for p in kept))


_PROBES: tuple[object, ...] = ("", 0, 0.0, Decimal(0))


def spec_is_valid(spec: str) -> bool:
    """Whether some value could take the format spec ``spec``: one of the standard types
    (text, int, float, Decimal), or a date through strftime (a spec with a ``%`` directive)."""
    if not spec or "%" in spec:
        return True
    for probe in _PROBES:
        try:
            format(probe, spec)
        except (TypeError, ValueError):
            continue
        return True
    return False


def _piece(part: str | Placeholder) -> Callable[[Mapping[str, object]], str]:
    if isinstance(part, str):
        return lambda row: part
    column, fmt = part.column, part.format
    return lambda row: fmt(row[column])


# --- a --map cell: notebook interpolation and row placeholders ------------------------------


@dataclass(frozen=True)
class CellTemplate:
    """A ``--map`` cell split: ``template`` is the row template (notebook values already in,
    escaped), ``notebook`` the expressions interpolated once, ``columns`` the row ones."""

    template: str
    notebook: tuple[str, ...]
    columns: tuple[str, ...]


def _escape(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def split_cell(
    text: str, columns: Sequence[str], namespace: Mapping[str, Any], *, value_tokens: int | None = None
) -> CellTemplate:
    """Split a ``--map`` cell into notebook interpolation (done here, once) and the row template
    (see the module docstring for the rule); raises OptionError (one line) on an ambiguous or
    unknown name and :class:`~evo_magic.context.InterpolationError` on a failing expression."""
    fences = fence_spans(text)
    budget = DEFAULT_VALUE_TOKENS if value_tokens is None else value_tokens
    out: list[str] = []
    notebook: list[str] = []
    row: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        fenced = any(start <= i < end for start, end in fences)
        if c in "{}" and text.startswith(c * 2, i):
            out.append(c * 4 if fenced else c * 2)  # fenced code is sent as written
            i += 2
            continue
        if c != "{":
            out.append(_escape(c))
            i += 1
            continue
        m = _PLACEHOLDER.match(text, i)
        if m is not None and (column := _row_column(m, columns, namespace, fenced)) is not None:
            out.append(m.group())
            row.append(column)
            i = m.end()
            continue
        end = -1 if fenced else closing_brace(text, i)
        expr = text[i + 1 : end].strip() if end > 0 else ""
        if end > 0 and expr and (is_expression(expr) or m is not None):
            out.append(_escape(interpolate(text[i : end + 1], namespace, value_tokens=budget)))
            notebook.append(expr)
            i = end + 1
            continue
        out.append("{{")
        i += 1
    return CellTemplate("".join(out), tuple(notebook), tuple(dict.fromkeys(row)))


def _row_column(m: re.Match[str], columns: Sequence[str], namespace: Mapping[str, Any], fenced: bool) -> str | None:
    """The column the placeholder ``m`` of a ``--map`` cell names, or None when it is the
    notebook's to interpolate; OptionError (one line) when it names both or neither."""
    column = _column_of(m)
    explicit = m.group("name") is None  # {row.x} and {row["x"]} are always row placeholders
    if column in columns or explicit:
        if not explicit and column in namespace:
            raise OptionError(
                f"{m.group()} names both a column and a notebook variable: write {{row.{column}}} for the "
                "column, or rename the variable"
            )
        if column not in columns:
            raise unknown_column(column, list(columns), m.group())
        return column
    if not fenced and column not in namespace:
        raise OptionError(
            f"{m.group()}: {column!r} is neither a notebook variable nor a column {_listing(column, list(columns))}"
        )
    return None
