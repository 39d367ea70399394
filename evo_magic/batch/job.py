"""The requests of a run: one body per row, keyed by its exact request (pure).

:class:`Job` holds what every row shares — the compiled template, the schema, the options
(validated once), the session's system prompt and the protocol — and the rows' values. Every
row is rendered once when the job is made (:func:`job_of`), so a value that does not fit its
placeholder's format is a one-line error naming the row before any request; only the rows'
request keys (:func:`~evo_magic.core.replay.request_key`) are kept, and a body is built again
when it is sent, so a run of 100,000 rows holds 100,000 short keys, not 100,000 bodies.
Identical rows have the same key: the run asks once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..core.messages import Message
from ..core.options import RequestOptions
from ..core.replay import request_key
from ..core.schema import Schema, retry_message
from ..display.notices import plural
from ..errors import OptionError
from ..protocol import Codec, codec
from .template import RowTemplate


@dataclass(frozen=True)
class Retry:
    """A second request for a row whose answer did not validate: the first answer and why."""

    answer: str
    problem: str


@dataclass
class Job:
    """The run's shared parts and the rows' values; ``keys[i]`` is row i's request key and
    ``first[key]`` the first row with it."""

    template: RowTemplate
    opts: RequestOptions
    values: dict[str, list[Any]]
    length: int
    schema: Schema | None = None
    system: str | None = None
    session: str = "default"  # whose options it runs with (the ledger rows' session)
    keys: list[str] = field(default_factory=list)
    first: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # what the user should know before and after (missing values)

    @property
    def codec(self) -> Codec:
        return codec(self.opts.protocol)

    def row(self, index: int) -> dict[str, Any]:
        return {c: v[index] for c, v in self.values.items()}

    def messages(self, index: int, retry: Retry | None = None) -> list[Message]:
        extra = self.schema.describe() if self.schema is not None else None
        messages = self.template.messages(self.row(index), system=self.system, extra=extra)
        if retry is not None:
            messages += [Message("assistant", retry.answer), Message.user(retry_message(retry.problem))]
        return messages

    def body(self, index: int, retry: Retry | None = None) -> dict[str, Any]:
        """Row ``index``'s request body (with ``retry``: the schema's second try)."""
        return self.codec.build_body(self.messages(index, retry), self.opts)

    def key(self, body: Mapping[str, Any]) -> str:
        c = self.codec
        return request_key(self.opts.protocol, c.PATH, body)

    @property
    def distinct(self) -> list[str]:
        """The distinct request keys, in the order of their first row."""
        return list(self.first)

    def bodies(self, keys: Sequence[str]) -> Iterator[dict[str, Any]]:
        for k in keys:
            yield self.body(self.first[k])


def job_of(
    template: RowTemplate,
    values: dict[str, list[Any]],
    length: int,
    opts: RequestOptions,
    *,
    schema: Schema | None = None,
    system: str | None = None,
    label: Any = None,
    session: str = "default",
) -> Job:
    """The :class:`Job` of the rows: every row rendered once and keyed. ``label(i)`` names row i
    in an error (a pandas index label)."""
    job = Job(template, opts, values, length, schema, system, session)
    for i in range(length):
        try:
            k = job.key(job.body(i))
        except OptionError as exc:
            where = label(i) if label is not None else f"row {i}"
            raise OptionError(f"{where}: {exc}") from None
        job.keys.append(k)
        job.first.setdefault(k, i)
    note = missing_note(template.columns, values, length)
    job.notes = (note,) if note else ()
    return job


def _missing(value: Any) -> bool:
    """None, a float NaN (numpy's too), pandas' NA or NaT: a gap in the table."""
    nan = isinstance(value, float) and value != value
    return value is None or nan or type(value).__name__ in ("NAType", "NaTType")


def missing_note(columns: Sequence[str], values: Mapping[str, Sequence[Any]], length: int) -> str | None:
    """How many rows have a missing value in the template's columns, and what to do (None: no gap)."""
    counts = {c: sum(map(_missing, values[c])) for c in columns}
    rows = sum(1 for i in range(length) if any(_missing(values[c][i]) for c in columns)) if any(counts.values()) else 0
    if not rows:
        return None
    where = ", ".join(f"{n:,} in {{{c}}}" for c, n in counts.items() if n)
    subset = ", ".join(repr(c) for c, n in counts.items() if n)
    verbs = ("has", "it is") if rows == 1 else ("have", "they are")
    return (f"{plural(rows, 'row')} {verbs[0]} a missing value (None or NaN): {where}; {verbs[1]} sent as written "
            f"('None', 'nan'); leave them out with df.dropna(subset=[{subset}])")  # fmt: skip


def map_options(opts: RequestOptions, schema: Schema | None) -> RequestOptions:
    """A run's options: not streamed, JSON mode with a schema (Chat Completions has it); one
    answer per row and no tools (OptionError, one line, otherwise)."""
    if opts.n != 1:
        raise OptionError(f"a map run keeps one answer per row: n must be 1, not {opts.n}")
    if opts.tools or opts.tool_choice is not None:
        raise OptionError("a map run calls no tools: drop tools / tool_choice (use a session's ask for that)")
    json_mode = opts.json_mode or (schema is not None and opts.protocol == "openai")
    return opts.replace(stream=False, json_mode=json_mode)


__all__ = ["Job", "Retry", "job_of", "map_options"]
