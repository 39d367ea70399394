"""What a run gives back: each distinct request's :class:`Answer`, the result's columns, and
the run's :class:`MapSummary` (pure).

Per row: the answer (``answer``, or one column per schema field), ``error`` (None, or one
line), ``cost`` (exact Decimal; None when unknown), ``tokens_in``, ``tokens_out`` and
``cached``. ``cost`` and the tokens are what answering the row cost when it was asked — so a
run resumed after a crash gives the same columns as one that never stopped — and a row that
repeats an earlier identical row of the same table shows 0 (it was asked once), so
``out.cost.sum()`` is what the table's answers cost. ``cached`` is True when this call did
not pay for the row: its answer was kept from an earlier run, or another row asked it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from ..core.schema import Schema
from ..core.usage import Usage
from ..display.money import format_money
from ..display.notices import Table, plural
from .job import Retry

ROW_COLUMNS = ("error", "cost", "tokens_in", "tokens_out", "cached")
ZERO = Decimal(0)


@dataclass(slots=True)
class Answer:
    """The outcome of one distinct request (and of its schema retry, if it took one); one is
    held per distinct row until the run ends, so it is kept small (slots, shared values)."""

    text: str | None = None
    value: Any = None  # the validated object, with a schema
    error: str | None = None
    usage: Usage | None = None
    cost: Decimal | None = ZERO  # None: unknown
    kept: bool = False  # answered by an earlier run (from the store)
    retry: Retry | None = None  # a schema retry still to ask

    def add(self, usage: Usage | None, cost: Decimal | None) -> None:
        """Count one more request's usage and cost into this answer's."""
        if usage is not None:
            self.usage = usage if self.usage is None else Usage.total([self.usage, usage])
        if cost is None or self.cost is None:
            self.cost = None
        elif self.cost.is_zero():
            self.cost = cost  # the first request's: not a new Decimal
        elif not cost.is_zero():
            self.cost += cost


class Tally(Protocol):
    """Where :func:`resolve` counts rows (the run's :class:`~evo_magic.batch.progress.Counts`)."""

    done: int
    failed: int


def resolve(
    answers: dict[str, Answer], schema: Schema | None, owner: str, rows: int, text: str | None, error: str | None,
    retried: bool, tally: Tally,
) -> Retry | None:  # fmt: skip
    """Settle the answer of the distinct request ``owner`` (``rows`` rows ask it) from ``text``
    or ``error``: validated with the schema, an invalid first answer asks for one retry (returned);
    an invalid retry is the rows' error."""
    answer = answers.setdefault(owner, Answer())
    if error is None and schema is not None:
        checked = schema.validate(text)
        if checked.ok:
            answer.value, answer.text = checked.value, text
        elif not retried:
            answer.retry = Retry(text or "", checked.error or "invalid")
            return answer.retry
        else:
            error = f"the answer does not match the schema, even after one retry: {checked.error}"
    elif error is None:
        answer.text = text
    answer.error, answer.retry = error, None
    if error is None:
        tally.done += rows
    else:
        tally.failed += rows
    return None


def output_columns(schema: Schema | None) -> tuple[str, ...]:
    return (*(schema.columns if schema is not None else ("answer",)), *ROW_COLUMNS)


def columns_of(
    keys: Sequence[str], first: dict[str, int], answers: dict[str, Answer], schema: Schema | None, left: str
) -> dict[str, list[Any]]:
    """The result's new columns, one list each; ``left`` is the error of a row not answered."""
    names = output_columns(schema)
    out: dict[str, list[Any]] = {n: [] for n in names}
    fields = schema.columns if schema is not None else ()
    for i, key in enumerate(keys):
        a = answers.get(key)
        own = first[key] == i  # the first row of its request pays for it
        if a is None:
            values: dict[str, Any] = {"error": left, "cost": ZERO, "tokens_in": None, "tokens_out": None,
                                      "cached": False}  # fmt: skip
        else:
            usage = a.usage if own else Usage()
            values = {
                "error": a.error, "cost": a.cost if own else ZERO,
                "tokens_in": None if usage is None else usage.prompt_tokens,
                "tokens_out": None if usage is None else usage.completion_tokens,
                "cached": a.kept or not own,
            }  # fmt: skip
        if schema is None:
            values["answer"] = None if a is None else a.text
        else:
            got = schema.fields(a.value) if a is not None and a.value is not None else {}
            values.update({f: got.get(f) for f in fields})
        for n in names:
            out[n].append(values[n])
    return out


@dataclass(frozen=True)
class MapSummary:
    """What one ``evo_magic.map`` call did (``out.attrs["evo_magic"]``). ``requests`` are the
    ones this call sent; ``kept`` the rows answered by an earlier run; the tokens, the cost and
    the cache-hit share are this call's (``cost`` None when some request's price is unknown)."""

    run_id: str
    model: str
    rows: int
    answered: int
    failed: int
    left: int
    requests: int
    kept: int
    repeated: int
    tokens_in: int
    tokens_out: int
    cache_hit_tokens: int
    cost: Decimal | None
    elapsed: float
    stopped: str | None = None
    throttled: int = 0
    offline: bool = False
    notes: tuple[str, ...] = field(default=())
    cut_off: int = 0  # requests sent whose answer never came: their cost is unknown

    @property
    def cache_hit_share(self) -> float | None:
        return self.cache_hit_tokens / self.tokens_in if self.tokens_in else None

    @property
    def rows_per_second(self) -> float | None:
        return self.requests / self.elapsed if self.elapsed > 0 and self.requests else None

    def as_dict(self) -> dict[str, Any]:
        return {**{k: getattr(self, k) for k in self.__dataclass_fields__}, "cache_hit_share": self.cache_hit_share}

    def as_json(self) -> dict[str, Any]:
        """:meth:`as_dict` in JSON types: the cost a decimal string (exact), the notes a list."""
        fields = self.as_dict()
        return {**fields, "cost": None if self.cost is None else str(self.cost), "notes": list(self.notes)}

    def line(self) -> str:
        """One line: ``1,000 rows: 998 answered, 2 failed · 1,000 requests · … · $0.0123 · 12.1 s``."""
        parts = [f"{self.rows:,} rows: {self.answered:,} answered"]
        if self.failed:
            parts[0] += f", {self.failed:,} failed"
        if self.left:
            parts[0] += f", {self.left:,} left"
        sent = plural(self.requests, "request")
        if self.kept or self.repeated:
            sent += f" ({self.kept + self.repeated:,} rows answered without one)"
        share = "" if self.cache_hit_share is None else f" ({self.cache_hit_share:.0%} from cache)"
        cost = _cost(self) + (" if billed (emulator)" if self.offline else "")
        parts += [sent, f"{self.tokens_in:,} tokens in{share}, {self.tokens_out:,} out", cost, f"{self.elapsed:.1f} s"]
        return " · ".join(parts)

    def _table(self) -> Table:
        note = f"run {self.run_id}" + (f" — stopped: {self.stopped}" if self.stopped else "")
        rows = [[label, value] for label, value in _rows(self)]
        return Table(f"evo_magic.map — {self.model}", ["what", "value"], rows, "\n".join([note, *self.notes]))

    def __repr__(self) -> str:
        return repr(self._table())

    def _repr_html_(self) -> str:
        return self._table()._repr_html_()


class SummaryFields(dict[str, Any]):
    """``out.attrs["evo_magic"]``: the run's :class:`MapSummary` as JSON fields, because pandas
    saves ``attrs`` as JSON in a Parquet file (read back, they are these fields); it reads as
    the summary too: ``.run_id``, ``.cost`` (a Decimal), ``.line()``, its repr and table."""

    def __init__(self, summary: MapSummary) -> None:
        super().__init__(summary.as_json())
        self.summary = summary

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "summary":  # copy and pickle probe before it is set
            raise AttributeError(name)
        return getattr(self.summary, name)

    def __repr__(self) -> str:
        return repr(self.summary)


def _cost(s: MapSummary) -> str:
    """The run's cost, ``+ N unknown`` for the requests cut off (as ``%deepseek usage`` says)."""
    return format_money(s.cost) + (f" + {s.cut_off:,} unknown" if s.cut_off else "")


def _rows(s: MapSummary) -> Iterable[tuple[str, str]]:
    yield "rows", f"{s.rows:,}: {s.answered:,} answered, {s.failed:,} failed, {s.left:,} left"
    cut = f" ({s.cut_off:,} cut off unanswered: cost unknown)" if s.cut_off else ""
    told = f" ({s.throttled:,} times told to wait: 429)" if s.throttled else ""
    yield "requests sent", f"{s.requests:,}{cut}{told}"
    yield "answered earlier (kept)", f"{s.kept:,}"
    yield "identical rows asked once", f"{s.repeated:,}"
    share = "" if s.cache_hit_share is None else f" ({s.cache_hit_share:.0%} from the prefix cache)"
    yield "tokens", f"{s.tokens_in:,} in{share}, {s.tokens_out:,} out"
    yield "cost", _cost(s) + (" if billed (the emulator answered)" if s.offline else "")
    rate = "" if s.rows_per_second is None else f" ({s.rows_per_second:,.1f} requests/s)"
    yield "elapsed", f"{s.elapsed:.1f} s{rate}"


__all__ = ["ROW_COLUMNS", "Answer", "MapSummary", "SummaryFields", "Tally", "columns_of", "output_columns", "resolve"]
