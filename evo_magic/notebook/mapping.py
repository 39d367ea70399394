"""``%%deepseek --map NAME -o out``: the cell's body is the row template of
:func:`evo_magic.map` over the notebook's table ``NAME`` (IPython surface).

The body mixes the cells' notebook interpolation and row placeholders; the rule
(:func:`~evo_magic.batch.template.split_cell`): a ``{name}`` that is a column of the table is
a row placeholder, ``{row.name}`` always is, any other ``{expression}`` is run once in the
notebook before the run (a name both a column and a variable is an error asking for
``{row.name}``). ``--estimate`` shows the estimate and sends nothing; ``--schema NAME`` gives
one column per field; ``--concurrency N`` bounds the requests in flight; every other request
option of a cell applies. ``-o out`` receives the result (the estimate with ``--estimate``,
the partial result after Ctrl-C); without it the run's summary is shown and the table is the
cell's output.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from IPython.core.error import UsageError
from IPython.display import display

from ..errors import ConfigError, OptionError
from . import args as magic_args

if TYPE_CHECKING:
    from ..runtime import Runtime
    from .settings import Prefs


class MapMagic(Protocol):
    """What the --map cell needs of the magic (a :class:`~evo_magic.notebook.cell.CellMagic`)."""

    runtime: Runtime
    prefs: Prefs

    @property
    def user_ns(self) -> dict[str, Any]: ...

    def execution_count(self) -> int | None: ...

    def schema_named(self, name: str | None) -> Any: ...

    def store(self, name: str | None, value: Any) -> None: ...

NOT_FOR_MAP = ("tools", "tool_choice", "approve", "fix", "new", "prefix", "prefix_reasoning")


def map_cell(magic: MapMagic, args: Any, body: str) -> Any:
    """Run the ``--map`` cell (see the module docstring); misuse is a one-line UsageError.
    Without ``-o`` the run's summary is shown and the table is returned: the cell's output."""
    from ..batch.run import MapInterrupted, map_rows
    from ..batch.table import module_of, table_of
    from ..batch.template import split_cell
    from ..core.context import InterpolationError

    data = _data(magic, args)
    if not body.strip():
        raise UsageError("the --map cell has no template: write the prompt for one row below %%deepseek")
    options = {k: v for k, v in magic_args.overrides(args).items() if v is not None}
    try:
        columns = data._meta.columns if module_of(data) == "dask" else table_of(data).columns
        template = split_cell(body.strip(), [str(c) for c in columns], magic.user_ns,
                              value_tokens=magic.prefs.value_tokens).template  # fmt: skip
        result = map_rows(
            data, template, magic.schema_named(args.schema), session=args.session, dry_run=args.estimate,
            cell=magic.execution_count(), runtime=magic.runtime,
            **({"concurrency": args.concurrency} if args.concurrency else {}), **options,
        )  # fmt: skip
    except MapInterrupted as exc:
        magic.store(args.output, exc.result)
        raise
    except (OptionError, ConfigError, InterpolationError) as exc:
        raise UsageError(exc.one_line()) from None
    magic.store(args.output, result)
    if args.estimate:
        if not args.output:
            display(result)
        return None
    if args.output:
        return None
    attrs = getattr(result, "attrs", None)  # a polars table has none: it is its own output
    if isinstance(attrs, dict) and "evo_magic" in attrs:
        display(attrs["evo_magic"])
    return result


def _data(magic: MapMagic, args: Any) -> Any:
    if not args.map_data:
        raise UsageError("--estimate and --concurrency go with --map NAME (the table to run the template over)")
    for flag in NOT_FOR_MAP:
        if getattr(args, flag, None):
            raise UsageError(f"--{flag.replace('_', '-')} does not go with --map: a map run asks each row once")
    if args.system:
        raise UsageError("--system does not go with --map: give it to the session, or write it in the template")
    name = args.map_data
    if name not in magic.user_ns:
        raise UsageError(f"--map: no variable named {name!r} in the notebook")
    return magic.user_ns[name]


__all__ = ["map_cell"]
