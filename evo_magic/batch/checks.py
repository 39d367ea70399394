"""What a run checks once, before its first request: the concurrency, the data against the
template, the schema, every request option, the key, the notebook's budget, and under the
answer cache's ``replay-only`` (CI that must never spend) that nothing would be sent."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..core.schema import Schema, schema_of
from ..display.notices import plural
from ..errors import OptionError
from ..ledger.budget import BudgetExceeded, check
from ..ledger.notebook_id import short_name
from ..sessions.cache import CacheMiss
from .job import Job, job_of, map_options
from .results import output_columns
from .table import Table, check_free
from .template import compile_template

if TYPE_CHECKING:
    from ..config import Endpoint
    from ..runtime import Runtime
    from .record import RunStore

MAX_CONCURRENCY = 512


def check_concurrency(concurrency: object) -> None:
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or not 1 <= concurrency <= MAX_CONCURRENCY:
        raise OptionError(f"concurrency must be a whole number from 1 to {MAX_CONCURRENCY}, not {concurrency!r}")


def prepare(
    rt: Runtime, table: Table, template: str, schema: Any, session: str | None, options: Mapping[str, Any],
    *, need_key: bool = True,
) -> tuple[Job, Endpoint]:
    """Everything checked once, before any request: the job and where it goes (``need_key``:
    the key too; a Dask run's workers may bring their own)."""
    if not isinstance(template, str) or not template.strip():
        raise OptionError("the template is empty: write the prompt for one row, naming its columns as {column}")
    endpoint = rt.endpoint()  # the key is read (and so masked) first
    spec: Schema | None = schema_of(schema) if schema is not None else None
    s = rt.registry.get(session)
    opts = map_options(s.options(**options), spec).validate()
    compiled = compile_template(template, table.columns)
    check_free(table, output_columns(spec))
    values = table.values(compiled.columns)
    job = job_of(compiled, values, table.length, opts, schema=spec, system=s.system, label=table.row_label,
                 session=s.name)
    if need_key:
        endpoint.require_key()
    return job, endpoint


def refuse_past_budget(rt: Runtime, endpoint: Endpoint, requests: int) -> None:
    """A run that would start with the notebook's budget spent is refused (one line)."""
    budget = rt.accounting.budget
    if budget is None or endpoint.offline:
        return
    spent = rt.accounting.ledger.spend(rt.accounting.notebook)
    verdict = check(spent.cost, budget, None, notebook=short_name(rt.accounting.notebook), unpriced=spent.unknown)
    if verdict.refused:
        run = f"the run of {plural(requests, 'request')} is refused"
        raise BudgetExceeded(verdict.message.replace("request refused", run))


def replay_only(rt: Runtime) -> bool:
    """Whether the answer cache is ``replay-only`` (``%deepseek cache``, ``EVO_MAGIC_CACHE``):
    a run may then answer only from kept answers."""
    return rt.accounting.cache_mode(None) == "replay-only"


def refuse_unkept(job: Job, stored: RunStore) -> None:
    """Under ``replay-only``: a run with rows no earlier run answered is refused (one line)."""
    found = stored.get_many(job.distinct)
    missing = sum(1 for k in job.keys if k not in found)
    if missing:
        raise CacheMiss(
            f"replay-only: {missing:,} of {len(job.keys):,} rows have no kept answer; fill the store with one run "
            "of the same call outside replay-only (a map keeps every answer, whatever the cache mode)"
        )


__all__ = ["MAX_CONCURRENCY", "check_concurrency", "prepare", "refuse_past_budget", "refuse_unkept", "replay_only"]
