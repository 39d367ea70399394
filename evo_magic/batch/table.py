"""The tables ``evo_magic.map`` takes and gives back (pandas and polars are imported only when
the data is one of theirs).

:func:`table_of` reads what a user passes — a pandas DataFrame, a polars DataFrame, a list of
dicts (its columns: every key, in the order first seen; a missing key reads as None) or a list
of strings (one column, ``text``) — into a :class:`Table`. :func:`result_of` gives back a table
of the same kind, same index and order: the input columns, then the run's columns (a list
comes back as a pandas DataFrame, its rows numbered from 0). A column the run would add that
the input already has is a one-line error before any request (:func:`check_free`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from ..errors import OptionError

Kind: TypeAlias = Literal["pandas", "polars", "records", "strings"]
TEXT = "text"  # the one column of a list of strings


@dataclass(frozen=True)
class Table:
    """What the run reads of the data: its ``kind``, its column names (as text, the way a
    template names them), its row count and the data itself."""

    kind: Kind
    columns: tuple[str, ...]
    length: int
    data: Any
    labels: Mapping[str, Any]  # column name as text -> the column's own label (pandas: any hashable)

    def values(self, columns: Sequence[str]) -> dict[str, list[Any]]:
        """Each of ``columns`` as a list of Python values, in row order."""
        if self.kind == "pandas":
            return {c: self.data[self.labels[c]].tolist() for c in columns}
        if self.kind == "polars":
            return {c: self.data.get_column(c).to_list() for c in columns}
        if self.kind == "strings":
            return {c: list(self.data) for c in columns}
        return {c: [row.get(c) for row in self.data] for c in columns}

    def row_label(self, row: int) -> str:
        """How an error names row ``row`` (0-based): its index label for pandas."""
        if self.kind == "pandas":
            return f"row {self.data.index[row]!r}"
        return f"row {row}"


def module_of(data: object) -> str:
    return type(data).__module__.split(".")[0]


def table_of(data: object) -> Table:
    """The :class:`Table` of ``data``; OptionError (one line) for anything else."""
    module = module_of(data)
    if module == "pandas" and type(data).__name__ == "DataFrame":
        labels = {str(c): c for c in data.columns}  # type: ignore[attr-defined]
        if len(labels) != len(data.columns):  # type: ignore[attr-defined]
            raise OptionError("the DataFrame has two columns with the same name; give each its own")
        return Table("pandas", tuple(labels), len(data), data, labels)  # type: ignore[arg-type]
    if module == "polars" and type(data).__name__ == "DataFrame":
        columns = tuple(data.columns)  # type: ignore[attr-defined]
        return Table("polars", columns, data.height, data, {c: c for c in columns})  # type: ignore[attr-defined]
    if isinstance(data, (list, tuple)):
        return _listed(data)
    raise OptionError(
        "data must be a pandas or polars DataFrame, a Dask DataFrame, a list of dicts or a list of strings, "
        f"not {type(data).__name__}"
    )


def _listed(rows: Sequence[Any]) -> Table:
    if all(isinstance(r, str) for r in rows):
        return Table("strings", (TEXT,), len(rows), list(rows), {TEXT: TEXT})
    if all(isinstance(r, Mapping) for r in rows):
        columns = tuple(dict.fromkeys(str(k) for r in rows for k in r))
        records = [{str(k): v for k, v in r.items()} for r in rows]
        return Table("records", columns, len(rows), records, {c: c for c in columns})
    odd = next(r for r in rows if not isinstance(r, (str, Mapping)))
    raise OptionError(f"a list given as data holds only dicts or only strings, not a {type(odd).__name__}")


def check_free(table: Table, added: Sequence[str]) -> None:
    """OptionError when the run would add a column the table already has."""
    taken = [c for c in added if c in table.columns]
    if taken:
        names = ", ".join(repr(c) for c in taken)
        raise OptionError(f"the data already has a column named {names}, which the result adds: rename it first")


def result_of(table: Table, added: Mapping[str, list[Any]]) -> Any:
    """A table of ``table``'s kind: its columns, then ``added`` (one list per new column)."""
    if table.kind == "polars":
        return _polars(table.data, added)
    import pandas as pd

    if table.kind == "pandas":
        out = table.data.copy()
        index = out.index
    else:
        base = {TEXT: table.data} if table.kind == "strings" else table.values(table.columns)
        out = pd.DataFrame(base, columns=list(table.columns))
        index = out.index
    for name, values in added.items():
        out[name] = pd.Series(values, index=index, dtype=_pandas_dtype(name, values))
    return out


def _pandas_dtype(name: str, values: list[Any]) -> Any:
    if name == "cost":
        return object  # exact Decimal, None when unknown
    if name in ("tokens_in", "tokens_out"):
        return "Int64"  # <NA> when unknown, never 0
    if name == "cached":
        return bool
    return None


def _polars(frame: Any, added: Mapping[str, list[Any]]) -> Any:
    import polars as pl

    series = []
    for name, values in added.items():
        if name in ("tokens_in", "tokens_out"):
            series.append(pl.Series(name, values, dtype=pl.Int64))
            continue
        try:
            series.append(pl.Series(name, values, strict=False))
        except Exception:  # values polars cannot type (objects of a schema): kept as they are
            series.append(pl.Series(name, values, dtype=pl.Object))
    return frame.with_columns(series)


__all__ = ["TEXT", "Kind", "Table", "check_free", "module_of", "result_of", "table_of"]
